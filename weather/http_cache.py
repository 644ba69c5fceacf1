"""HTTP caching of the public weather (pages, Atom feed, JSON API, SVG badges), so that a proxy can serve them.

``public_cache`` gives each successful GET/HEAD answer of a public weather view:

* ``ETag``: a digest of the body — weak for an HTML page, taken without the request's CSP nonce (a fresh
  one each time, the only difference between two renderings of the same page); a view whose body carries its
  own generation time (the JSON list's ``generated_at``) sets a weak one over the rest itself (``weak_etag``);
* ``Last-Modified``: when this representation was first served, remembered in the cache under the URL with its
  ETag (a body seen for the first time is modified now; seen again, it keeps that instant), so that
  ``If-Modified-Since`` works as well as ``If-None-Match`` for pages whose content also moves with the clock
  (today's bar, running incident clocks). Only for visitors who are not signed in: a signed-in page names
  its reader;
* ``Cache-Control``: ``public, max-age=WEATHER_PUBLIC_MAX_AGE``, or ``private, max-age=0`` for an HTML page
  rendered for a signed-in user (unless the view chose its own, as the badge does);

and answers a conditional request whose validators match with 304 and no body — and no Content-Security-Policy:
the copy the client keeps runs under the policy (and nonce) it came with.
"""
import hashlib
import json
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.utils.cache import get_conditional_response
from django.utils.http import http_date

REMEMBER_SECONDS = 24 * 3600


def max_age():
    return getattr(settings, "WEATHER_PUBLIC_MAX_AGE", 30)


def weak_etag(data):
    """A weak ETag over JSON-serialisable ``data``."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return f'W/"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'


def _personal(request, response):
    """An HTML page rendered for a signed-in user (its header names them); feeds, JSON and badges never are."""
    return response.get("Content-Type", "").startswith("text/html") and request.user.is_authenticated


def _etag(request, response):
    nonce = getattr(request, "_csp_nonce", None)  # set when the page used request.csp_nonce (django-csp)
    if isinstance(nonce, str) and response.get("Content-Type", "").startswith("text/html"):
        return f'W/"{hashlib.sha256(response.content.replace(nonce.encode(), b"")).hexdigest()[:32]}"'
    return f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'


def _first_served(request, etag):
    """The instant (epoch seconds) this URL first answered this ETag, as far as the cache remembers."""
    key = "weather-http:" + hashlib.sha256(request.get_full_path().encode()).hexdigest()
    remembered = cache.get(key)
    if remembered and remembered[0] == etag:
        return remembered[1]
    now = int(time.time())
    cache.set(key, (etag, now), REMEMBER_SECONDS)
    return now


def conditional(request, response):
    if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.streaming:
        return response
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()  # a DRF Response is rendered after the view: its body is needed now
    if not response.has_header("ETag"):
        response["ETag"] = _etag(request, response)
    personal = _personal(request, response)
    if not response.has_header("Cache-Control"):
        response["Cache-Control"] = "private, max-age=0" if personal else f"public, max-age={max_age()}"
    last_modified = None
    if not personal:
        last_modified = _first_served(request, response["ETag"])
        response["Last-Modified"] = http_date(last_modified)
    answer = get_conditional_response(request, etag=response["ETag"], last_modified=last_modified, response=response)
    if answer.status_code == 304:
        answer._csp_exempt = answer._csp_exempt_ro = True  # django-csp: no header, so no new nonce
    return answer


def public_cache(view):
    """Decorate a public view (function, ``as_view()`` or a ``Feed`` instance) with the caching above."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return conditional(request, view(request, *args, **kwargs))

    rule = getattr(view, "access_rule", None)  # a Feed's rule is a class attribute: not copied by wraps
    if rule is not None:
        wrapped.access_rule = rule
    return wrapped
