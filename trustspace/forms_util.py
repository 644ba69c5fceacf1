"""What the apps' forms share: the bridge between domain errors and Django forms, the base of search forms."""
from dsfr.forms import DsfrBaseForm

from .errors import DomainError

FILTER_FIELD_TEMPLATE = "trustspace/forms/filter_field.html"


class FilterForm(DsfrBaseForm):
    """A search or filter form of a list: every field is optional, so none is marked « (Optionnel) » (the portal
    marks optional fields, and DSFR marks none when all are). Check boxes and radios keep django-dsfr's snippets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if getattr(field.widget, "input_type", "") not in ("checkbox", "radio"):
                field.template_name = FILTER_FIELD_TEMPLATE


def field_errors_for(form, exc: DomainError, aliases=None):
    """The error's field errors under the form's field names (``aliases``: {service's name: form's name})."""
    aliases = aliases or {}
    return {aliases.get(field, field): messages for field, messages in exc.field_errors.items()
            if aliases.get(field, field) in form.fields}


def apply_domain_error(form, exc: DomainError, aliases=None):
    """Attach a DomainError to the form: field errors on their fields, the rest as a form-wide error.
    ``aliases``: {the service's field name: the form's}, where they differ."""
    attached = False
    for field, messages in exc.field_errors.items():
        field = (aliases or {}).get(field, field)
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
            attached = True
    if not attached:
        form.add_error(None, exc.message)
