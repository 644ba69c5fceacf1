"""French error pages; JSON errors under /api/."""
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

MESSAGES = {
    400: "La requête est invalide.",
    403: "Vous n'avez pas accès à cette page.",
    404: "Cette page n'existe pas ou vous n'y avez pas accès.",
    405: "Cette adresse reçoit un formulaire envoyé depuis une page du portail ; elle ne s'affiche pas seule.",
    500: "Une erreur interne est survenue. L'équipe de l'ANS en est informée.",
}
CSRF_MESSAGE = ("Le formulaire a expiré ou n'a pas pu être vérifié : rechargez la page, puis recommencez "
                "votre saisie.")


def _respond(request, status, code):
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": code, "message": MESSAGES[status], "fields": {}}}, status=status)
    return render(request, "error.html", {"status": status, "message": MESSAGES[status]}, status=status)


def bad_request(request, exception=None):
    return _respond(request, 400, "bad_request")


def forbidden(request, exception=None):
    return _respond(request, 403, "forbidden")


def not_found(request, exception=None):
    return _respond(request, 404, "not_found")


def _page_above(path):
    """The nearest page above ``path`` (``/demandes/12/soumettre/`` → ``/demandes/12/``), or "" for the home."""
    segments = path.strip("/").split("/")
    while len(segments) > 1:
        segments.pop()
        candidate = "/" + "/".join(segments) + "/"
        try:
            resolve(candidate)
        except Resolver404:
            continue
        return candidate
    return ""


def method_not_allowed(request, response):
    """A form's action URL opened directly (a reload after an error, a bookmark): a French page leading back to
    the page the form belongs to, instead of Django's empty 405. The ``Allow`` header is kept."""
    if request.path.startswith("/api/"):
        page = JsonResponse({"error": {"code": "method_not_allowed", "message": MESSAGES[405], "fields": {}}},
                            status=405)
    else:
        page = render(request, "error.html", {
            "status": 405, "title": "Page d'envoi de formulaire", "message": MESSAGES[405],
            "details": ["Rien n'a été enregistré par cette ouverture."],
            "back_url": _page_above(request.path), "back_label": "Revenir à la page du formulaire",
        }, status=405)
    if response.has_header("Allow"):
        page["Allow"] = response["Allow"]
    return page


def server_error(request):
    return _respond(request, 500, "server_error")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the form's anti-forgery check failed (expired session, page opened before a login
    or logout, cookies refused). Nothing was saved; the person reloads the form and sends it again."""
    if request.path.startswith("/api/"):
        from ..api.session import CSRF_MESSAGE as API_CSRF_MESSAGE

        return JsonResponse({"error": {"code": "csrf", "message": API_CSRF_MESSAGE, "fields": {}}}, status=403)
    referer = request.headers.get("Referer", "")
    back = referer if url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()) else ""
    return render(request, "error.html", {
        "status": 403, "title": "Formulaire expiré", "message": CSRF_MESSAGE,
        "details": ["Rien n'a été enregistré.",
                    ("Si le problème persiste, vérifiez que votre navigateur accepte les cookies de ce site, "
                     "ou reconnectez-vous.")],
        "back_url": back, "reason": reason if settings.DEBUG else "",
    }, status=403)
