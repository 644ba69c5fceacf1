"""The acme-dns-compatible challenge API (https://github.com/joohoi/acme-dns), for operators that run their
own ACME client (lego, certbot-dns-acmedns, acme.sh…).

``POST /acme-dns/update`` with the headers ``X-Api-User`` / ``X-Api-Key`` and the JSON body
``{"subdomain": …, "txt": …}`` sets the TXT record of ``_acme-challenge.<vi FQDN>`` (the last two values are
kept, as acme-dns does), through ``certificates.services.acme_dns_update``. It behaves as acme-dns does, byte for
byte where acme-dns answers: the body is read as Go's JSON decoder reads it (keys matched case-insensitively, so
goacmedns's ``{"SubDomain", "Txt"}`` works; any or no content type), and the answers are acme-dns's own —
200 ``{"txt": "…"}``, 400 ``{"error": "bad_txt"}``, 401 ``{"error": "forbidden"}`` for wrong credentials and for
a name they may not write. ``GET /acme-dns/health`` answers 200, as acme-dns does. Two answers acme-dns does not
have keep the portal's structured shape: 429 (rate limits) and 503 when the DNS server did not take the value
(acme-dns would say 500 ``db_error``; the portal never answers 500 on purpose).
The credentials can write that one name and record type only; they are created (and rotated) in the
portal by a technical administrator (``POST /api/v1/drimboxes/<identifiant>/acme-dns/``), so
``/acme-dns/register`` refuses with an explanation.

No session or token authentication: the credentials are the headers, so there is no CSRF exposure
(DRF's views are CSRF-exempt unless SessionAuthentication runs, and it does not run here).

Rate limits (``trustspace.throttling``, THROTTLE_* settings), checked before the key's costly hash: per client IP,
then the lock of the username (THROTTLE_ACME_DNS_LOCKOUT_FAILURES consecutive failures lock it for
THROTTLE_ACME_DNS_LOCKOUT_MINUTES), then per username. Unknown usernames count and lock like known ones, so the
answers do not tell whether a username exists. Past a limit: 429 with ``Retry-After``, in the structured shape.
"""
import json
import math

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from certificates import services
from certificates.api import serializers as s
from trustspace import throttling
from trustspace.access import PUBLIC
from trustspace.errors import DomainError

ERROR = OpenApiResponse(s.ApiErrorSerializer, description="Erreur structurée.")
HEADERS = [
    OpenApiParameter("X-Api-User", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="Le `username` des identifiants acme-dns."),
    OpenApiParameter("X-Api-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="Le `password` des identifiants acme-dns."),
]


def _error(status_code, code, message, *, fields=None, headers=None):
    return Response({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status_code,
                    headers=headers)


def _throttled(wait, message=None):
    wait = max(1, math.ceil(wait))
    return _error(429, "throttled", message or throttling.throttled_message(wait),
                  headers={"Retry-After": str(wait)})


THROTTLED = OpenApiResponse(s.ApiErrorSerializer, description="Trop de requêtes (par adresse IP ou par identifiant, "
                                                             "ou identifiant bloqué après des échecs répétés) ; "
                                                             "l'en-tête Retry-After donne l'attente en secondes.")


class AcmeDnsAPIView(APIView):
    access_rule = PUBLIC
    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = (JSONParser,)
    throttle_classes = ()  # their own limits, per IP and per username (below)

    def ip_limit(self, request):
        """The 429 answer when the client's IP is over its limit (this request counts), else None."""
        if not throttling.enabled():
            return None
        result = throttling.hit("acme_dns_ip", throttling.client_ip(request))
        return None if result.allowed else _throttled(result.retry_after)

    @classmethod
    def as_view(cls, **initkwargs):
        return csrf_exempt(super().as_view(**initkwargs))


ACME_DNS_FIELDS = {"subdomain": "subdomain", "txt": "txt"}  # acme-dns's Go struct tags
MAX_BODY_BYTES = 4096


def acme_dns_fields(raw: bytes) -> dict[str, str]:
    """What acme-dns's Go decoder (``json.NewDecoder(r.Body).Decode``) reads from a body: the first JSON value
    (trailing bytes ignored), keys matched to the struct tags case-insensitively, later keys overwriting earlier
    ones, values that are not strings skipped; anything unreadable leaves the fields empty."""
    fields = dict.fromkeys(ACME_DNS_FIELDS, "")
    try:
        value, _end = json.JSONDecoder().raw_decode(raw[:MAX_BODY_BYTES].decode("utf-8", "replace").lstrip(" \t\r\n"))
    except (ValueError, RecursionError):
        return fields
    if isinstance(value, dict):
        for key, item in value.items():
            name = next((tag for tag in ACME_DNS_FIELDS if key == tag or key.casefold() == tag), None)
            if name is not None and isinstance(item, str):
                fields[name] = item
    return fields


def _acme_dns_answer(status_code: int, body: bytes) -> HttpResponse:
    """acme-dns's own answer bytes (``{"error": "…"}`` or ``{"txt": "…"}``, a space after the colon)."""
    return HttpResponse(body, status=status_code, content_type="application/json")


FORBIDDEN = b'{"error": "forbidden"}'
BAD_TXT = b'{"error": "bad_txt"}'


class AcmeDnsUpdateView(AcmeDnsAPIView):
    parser_classes = ()  # the body is read as acme-dns reads it, whatever its content type

    @extend_schema(
        request=s.AcmeDnsUpdateSerializer, parameters=HEADERS, auth=[],
        responses={200: s.AcmeDnsTxtSerializer,
                   400: OpenApiResponse(s.AcmeDnsErrorSerializer,
                                        description="`{\"error\": \"bad_txt\"}` : valeur TXT invalide (43 caractères "
                                                    "base64url attendus)."),
                   401: OpenApiResponse(s.AcmeDnsErrorSerializer,
                                        description="`{\"error\": \"forbidden\"}` : identifiants invalides ou "
                                                    "renouvelés depuis, nom qu'ils ne permettent pas d'écrire, ou "
                                                    "DRIMbox retirée (comme acme-dns, une seule réponse)."),
                   429: THROTTLED,
                   503: OpenApiResponse(s.ApiErrorSerializer,
                                        description="Le serveur DNS n'a pas pris la valeur ; réessayez.")},
        summary="acme-dns : écrire la valeur du défi DNS-01 du nom vi (compatible acme-dns /update)")
    def post(self, request):
        username = request.headers.get("X-Api-User", "")
        refusal = self.ip_limit(request) or self.username_limit(username)
        if refusal is not None:
            return refusal
        body = acme_dns_fields(request.body)
        try:
            services.acme_dns_update(username=username, password=request.headers.get("X-Api-Key", ""),
                                     subdomain=body["subdomain"], txt=body["txt"])
        except DomainError as exc:
            if exc.code == "unauthorized":
                self.failed(username)
                response = _acme_dns_answer(status.HTTP_401_UNAUTHORIZED, FORBIDDEN)
                response["WWW-Authenticate"] = 'X-Api-Key realm="acme-dns"'
                return response
            self.authenticated(username)
            if exc.code == "forbidden":  # a name these credentials may not write: acme-dns's same 401
                return _acme_dns_answer(status.HTTP_401_UNAUTHORIZED, FORBIDDEN)
            if exc.code == "bad_txt":
                return _acme_dns_answer(status.HTTP_400_BAD_REQUEST, BAD_TXT)
            if exc.code == "dns_unavailable":
                return _error(status.HTTP_503_SERVICE_UNAVAILABLE, exc.code, exc.message,
                              headers={"Retry-After": "30"})
            raise
        except ValueError:
            self.authenticated(username)
            # The zone client refused the value (services.acme_dns.TXT_VALUE lets a trailing newline through).
            return _acme_dns_answer(status.HTTP_400_BAD_REQUEST, BAD_TXT)
        except ImproperlyConfigured:
            self.authenticated(username)
            return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "dns_unavailable",
                          "Le portail n'est pas relié au serveur DNS de la zone : la valeur n'a pas été écrite.")
        self.authenticated(username)
        return _acme_dns_answer(status.HTTP_200_OK, b'{"txt": "' + body["txt"].encode() + b'"}')

    def username_limit(self, username):
        """The lock, then the rate, of the username as given: unknown ones too, so that the answers do not tell
        whether a username exists."""
        if not throttling.enabled():
            return None
        locked = throttling.locked_for("acme_dns_user", username)
        if locked:
            return _throttled(locked, (
                "Trop d'échecs d'authentification pour cet identifiant acme-dns : "
                f"réessayez dans {locked} s."))
        result = throttling.hit("acme_dns_user", username)
        return None if result.allowed else _throttled(result.retry_after)

    def failed(self, username):
        if throttling.enabled():
            throttling.record_failure("acme_dns_user", username,
                                      failures=settings.THROTTLE_ACME_DNS_LOCKOUT_FAILURES,
                                      seconds=settings.THROTTLE_ACME_DNS_LOCKOUT_MINUTES * 60)

    def authenticated(self, username):
        throttling.record_success("acme_dns_user", username)


class AcmeDnsRegisterView(AcmeDnsAPIView):
    @extend_schema(request=None, auth=[], responses={403: ERROR, 429: THROTTLED},
                   summary="acme-dns /register : refusé, les identifiants se créent dans le portail")
    def post(self, request):
        refusal = self.ip_limit(request)
        if refusal is not None:
            return refusal
        return _error(status.HTTP_403_FORBIDDEN, "register_in_portal", (
            "Les identifiants acme-dns se créent dans le portail de l'Espace de Confiance, par un administrateur "
            "technique de l'opérateur : page « Certificats » de la DRIMbox, ou "
            "POST /api/v1/drimboxes/<identifiant>/acme-dns/ (réponse au format de /register). Chaque identifiant "
            "ne peut écrire que le TXT "
            "« _acme-challenge.<FQDN vi> » de sa DRIMbox."))


class AcmeDnsHealthView(AcmeDnsAPIView):
    @extend_schema(request=None, auth=[], responses={200: None},
                   summary="acme-dns /health : 200 sans contenu quand le service répond")
    def get(self, request):
        return HttpResponse(status=status.HTTP_200_OK)
