"""The one pagination of every API list: ``?limit=`` and ``?offset=``, checked.

A ``limit`` or ``offset`` that is not a whole number in range is a 400 (French ``ApiError`` naming the
parameter), never silently ignored. ``limit`` is at least 1 and at most ``API_MAX_PAGE_SIZE`` (a larger
value is brought down to it, as DRF does, and the schema says so); ``offset`` is at least 0 and fits a
database integer. Without ``limit`` a page holds ``API_PAGE_SIZE`` items.

A list computed in Python (rows, not a queryset) is paginated the same way: ``paginate_queryset`` slices lists.
"""
from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_OFFSET = 2**31 - 1  # a database integer: a larger offset can only be a mistake (and would overflow)


def _whole_number(raw, name, *, minimum, maximum=None):
    text = raw.strip()
    # ASCII digits only: str.isdigit() also accepts « ² » or Arabic-Indic digits, which int() rejects or reads.
    if not (text.isascii() and text.isdigit()) or int(text) < minimum or (maximum is not None and int(text) > maximum):
        bound = f"entre {minimum} et {maximum}" if maximum is not None else f"supérieur ou égal à {minimum}"
        raise ValidationError({name: [f"Un nombre entier {bound} est attendu."]})
    return int(text)


class Pagination(LimitOffsetPagination):
    """``limit``/``offset`` pagination whose parameters are validated (400 on garbage) and capped."""

    @property
    def default_limit(self):
        return min(settings.API_PAGE_SIZE, self.max_limit)

    @property
    def max_limit(self):
        return settings.API_MAX_PAGE_SIZE

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        value = _whole_number(raw, self.limit_query_param, minimum=1, maximum=MAX_OFFSET)
        return min(value, self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return _whole_number(raw, self.offset_query_param, minimum=0, maximum=MAX_OFFSET)

    def paginate_queryset(self, queryset, request, view=None):
        # Both parameters are checked before anything is counted or read.
        self.get_offset(request)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.limit_query_param, "required": False, "in": "query",
             "description": f"Nombre d'éléments par page : {self.default_limit} par défaut, au plus {self.max_limit} "
                            f"(une valeur plus grande est ramenée à {self.max_limit}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_OFFSET}},
            {"name": self.offset_query_param, "required": False, "in": "query",
             "description": "Rang du premier élément renvoyé (0 : le premier).",
             "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
        ]



def pagination_parameters():
    """The two parameters as ``extend_schema(parameters=…)`` takes them, for a list that is not a ListAPIView."""
    from drf_spectacular.utils import OpenApiParameter

    return [OpenApiParameter(p["name"], p["schema"], OpenApiParameter.QUERY, description=p["description"])
            for p in Pagination().get_schema_operation_parameters(None)]


def whole_number_schema(minimum=0):
    """The schema of a query parameter read as a database integer (``MAX_OFFSET`` at most)."""
    return {"type": "integer", "minimum": minimum, "maximum": MAX_OFFSET}


def optional_whole_number(request, name, message):
    """A filter's query parameter of ``whole_number_schema()``: None when absent; given, even empty, it must be one
    (400 naming the parameter with ``message`` otherwise)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    # ASCII digits only: str.isdigit() also accepts « ² » or Arabic-Indic digits, which int() rejects or reads.
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_OFFSET:
        raise ValidationError({name: [message]})
    return int(raw)
