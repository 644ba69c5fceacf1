"""French error pages; JSON errors under /api/."""
from django.http import JsonResponse
from django.shortcuts import render

MESSAGES = {
    400: "La requête est invalide.",
    403: "Vous n'avez pas accès à cette page.",
    404: "Cette page n'existe pas ou vous n'y avez pas accès.",
    500: "Une erreur interne est survenue. L'équipe de l'ANS en est informée.",
}


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


def server_error(request):
    return _respond(request, 500, "server_error")
