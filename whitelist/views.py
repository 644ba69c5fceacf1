"""Whitelist pages: the public signed list (conditional GET) and the ANS history / prepare / publish pages."""
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_POST

from trustspace.access import ANS_ADMIN, PUBLIC, access
from trustspace.errors import DomainError

from . import services
from .models import WhitelistVersion, WhitelistVersionStatus

CACHE_CONTROL = "public, max-age=0, must-revalidate"


def _published():
    return WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED)


def _not_modified(request, etag, last_modified):
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return since is not None and int(last_modified.timestamp()) <= since


def _serve_version(request, queryset):
    """One indexed lookup for the metadata; the body is read only when it must be sent."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    row = queryset.values_list("pk", "sha256", "published_at").first()
    if row is None:
        raise Http404("Aucune liste blanche publiée.")
    pk, sha256, published_at = row
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Last-Modified": http_date(published_at.timestamp()), "Cache-Control": CACHE_CONTROL}
    if _not_modified(request, etag, published_at):
        response = HttpResponse(status=304)
    else:
        body = b"" if request.method == "HEAD" else bytes(
            WhitelistVersion.objects.filter(pk=pk).values_list("signed_xml", flat=True).get())
        response = HttpResponse(body, content_type="application/xml")
    for name, value in headers.items():
        response[name] = value
    return response


@access(PUBLIC)
def current_list(request):
    return _serve_version(request, _published().order_by("-number"))


@access(PUBLIC)
def checksum(request):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    sha256 = _published().order_by("-number").values_list("sha256", flat=True).first()
    if sha256 is None:
        raise Http404("Aucune liste blanche publiée.")
    response = HttpResponse(sha256, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = CACHE_CONTROL
    return response


@access(PUBLIC)
def version_xml(request, number):
    return _serve_version(request, _published().filter(number=number))


# --- ANS ------------------------------------------------------------------------------------------


@access(ANS_ADMIN)
def history(request):
    versions = WhitelistVersion.objects.select_related("prepared_by", "approved_by").defer(
        "unsigned_xml", "signed_xml")
    return render(request, "whitelist/history.html", {"versions": versions})


@access(ANS_ADMIN)
@require_POST
def prepare(request):
    try:
        version = services.prepare_version(acting_user=request.user, comment=request.POST.get("comment", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("ans_whitelist")
    messages.success(request, f"La version {version.number} est préparée : un autre administrateur ANS doit "
                              "l'approuver pour la publier.")
    return redirect("ans_whitelist_version", number=version.number)


@access(ANS_ADMIN)
def version_detail(request, number):
    version = get_object_or_404(WhitelistVersion.objects.select_related("prepared_by", "approved_by"),
                                number=number)
    return render(request, "whitelist/version_detail.html", {
        "version": version,
        "can_publish": version.status == WhitelistVersionStatus.PREPARED and not (
            services.four_eyes() and version.prepared_by_id == request.user.pk),
        "is_preparer": version.prepared_by_id == request.user.pk,
        "four_eyes": services.four_eyes(),
    })


@access(ANS_ADMIN)
@require_POST
def publish(request, number):
    version = get_object_or_404(WhitelistVersion, number=number)
    try:
        services.approve_and_publish(version, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"La version {version.number} est signée, vérifiée et publiée.")
    return redirect("ans_whitelist_version", number=number)
