"""The acme-dns-compatible challenge API (https://github.com/joohoi/acme-dns), for operators that run their
own ACME client (lego, certbot-dns-acmedns, acme.sh…).

``POST /acme-dns/update`` with the headers ``X-Api-User`` / ``X-Api-Key`` and the JSON body
``{"subdomain": …, "txt": …}`` sets the TXT record of ``_acme-challenge.<vi FQDN>`` (the last two values are
kept, as acme-dns does), through ``certificates.services.acme_dns_update``; answers 200 ``{"txt": …}``.
The credentials can write that one name and record type only; they are created (and rotated) in the
portal by a technical administrator (``POST /api/v1/drimboxes/<id>/acme-dns/``), so ``/acme-dns/register``
refuses with an explanation.

No session or token authentication: the credentials are the headers, so there is no CSRF exposure
(DRF's views are CSRF-exempt unless SessionAuthentication runs, and it does not run here).

Rate limits (``trustspace.throttling``, THROTTLE_* settings), checked before the key's costly hash: per client IP,
then the lock of the username (THROTTLE_ACME_DNS_LOCKOUT_FAILURES consecutive failures lock it for
THROTTLE_ACME_DNS_LOCKOUT_MINUTES), then per username. Unknown usernames count and lock like known ones, so the
answers do not tell whether a username exists. Past a limit: 429 with ``Retry-After``, in the structured shape.
"""
import math

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
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


class AcmeDnsUpdateView(AcmeDnsAPIView):
    @extend_schema(
        request=s.AcmeDnsUpdateSerializer, parameters=HEADERS, auth=[],
        responses={200: s.AcmeDnsTxtSerializer,
                   400: OpenApiResponse(description="Valeur TXT invalide (43 caractères base64url attendus)."),
                   401: OpenApiResponse(description="Identifiants acme-dns invalides ou renouvelés depuis."),
                   403: OpenApiResponse(description="Ces identifiants ne permettent pas d'écrire ce nom, ou la "
                                                    "DRIMbox est retirée."),
                   429: THROTTLED,
                   503: OpenApiResponse(description="Le serveur DNS n'a pas pris la valeur ; réessayez.")},
        summary="acme-dns : écrire la valeur du défi DNS-01 du nom vi (compatible acme-dns /update)")
    def post(self, request):
        username = request.headers.get("X-Api-User", "")
        refusal = self.ip_limit(request) or self.username_limit(username)
        if refusal is not None:
            return refusal
        try:
            body = request.data
        except (ParseError, UnsupportedMediaType):
            body = {}  # the credentials are checked first; a body that is not JSON then fails on its values
        if not isinstance(body, dict):
            body = {}
        try:
            services.acme_dns_update(username=username, password=request.headers.get("X-Api-Key", ""),
                                     subdomain=body.get("subdomain"), txt=body.get("txt"))
        except DomainError as exc:
            if exc.code == "unauthorized":
                self.failed(username)
                return _error(status.HTTP_401_UNAUTHORIZED, exc.code, exc.message,
                              headers={"WWW-Authenticate": 'X-Api-Key realm="acme-dns"'})
            self.authenticated(username)
            if exc.code == "dns_unavailable":
                return _error(status.HTTP_503_SERVICE_UNAVAILABLE, exc.code, exc.message,
                              headers={"Retry-After": "30"})
            raise
        except ValueError:
            self.authenticated(username)
            # The zone client refused the value (services.acme_dns.TXT_VALUE lets a trailing newline through).
            return _error(status.HTTP_400_BAD_REQUEST, "bad_txt",
                          "Valeur TXT invalide : 43 caractères base64url attendus.",
                          fields={"txt": ["43 caractères base64url attendus."]})
        except ImproperlyConfigured:
            self.authenticated(username)
            return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "dns_unavailable",
                          "Le portail n'est pas relié au serveur DNS de la zone : la valeur n'a pas été écrite.")
        self.authenticated(username)
        return Response({"txt": body.get("txt")})

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
            "technique de l'opérateur : page « Certificats » de la DRIMbox, ou POST /api/v1/drimboxes/<id>/acme-dns/ "
            "(réponse au format de /register). Chaque identifiant ne peut écrire que le TXT "
            "« _acme-challenge.<FQDN vi> » de sa DRIMbox."))
