"""Readiness and liveness probes (load balancers, Prometheus, deploy checks)."""
import logging

from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from ..access import PUBLIC, access

# The name the readiness log line has always carried (log queries filter on it).
logger = logging.getLogger("trustspace.views")


@access(PUBLIC)
@never_cache
def health(request):
    """Readiness (also /api/v1/health): 200 when every part answers, else 503 naming the failing parts."""
    from ..health import readiness

    ready, body = readiness()
    response = JsonResponse(body, status=200 if ready else 503, json_dumps_params={"ensure_ascii": False})
    if not ready:
        # A probe polling every few seconds during an outage must not mail the administrators on every 503
        # (Django's django.request logging): one line here, the alert check tells ANS once.
        logger.warning("readiness: 503 (%s)", ", ".join(sorted(body["error"]["fields"])))
        response._has_been_logged = True
    return response


@access(PUBLIC)
@never_cache
def health_live(request):
    """Liveness: the process answers; no database, cache or broker is touched."""
    return JsonResponse({"status": "ok"})
