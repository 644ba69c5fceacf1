"""Whitelist pages: the public signed list (conditional GET), the conformance kit for DRIMbox vendors and the ANS
history / prepare / publish pages."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html, format_html_join
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_POST

from trustspace.access import ANS_ADMIN, PUBLIC, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error, field_errors_for
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once, token_of

from . import conformance, github_issues, github_publish, pending, public_cache, services, signer_watch, verify
from .forms import AbandonForm, GitHubDecisionForm, PrepareForm
from .models import (
    GitHubIssueRequest,
    GitHubIssueStatus,
    GitHubPublication,
    WhitelistVersion,
    WhitelistVersionStatus,
)

CACHE_CONTROL = "public, max-age=0, must-revalidate"


def _not_modified(request, etags, last_modified):
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or not tags.isdisjoint(etags)
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return since is not None and int(last_modified.timestamp()) <= since


def _accepts_gzip(request):
    for coding in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _serve_version(request, key):
    """The published file ``number`` from the worker's memory (``public_cache``), gzip when the client accepts
    it (the decoded bytes are the signed bytes); 304 when the client's copy is current."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if key is None:
        raise Http404("Aucune liste blanche publiée.")
    try:
        published = public_cache.get(*key)
    except WhitelistVersion.DoesNotExist:  # remembered from another database (tests, restored backup)
        public_cache.forget_current()
        raise Http404("Aucune liste blanche publiée.") from None
    gzipped = _accepts_gzip(request)
    etag = published.gzip_etag if gzipped else published.etag
    if _not_modified(request, (published.etag, published.gzip_etag), published.published_at):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(published.gzip_body if gzipped else published.body, content_type="application/xml")
        if gzipped:
            response["Content-Encoding"] = "gzip"
        response["Content-Length"] = str(len(response.content))
    response["ETag"] = etag
    response["Last-Modified"] = http_date(published.published_at.timestamp())
    response["Cache-Control"] = CACHE_CONTROL
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


@access(PUBLIC)
def current_list(request):
    return _serve_version(request, public_cache.current())


@access(PUBLIC)
def checksum(request):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    current = public_cache.current()
    if current is None:
        raise Http404("Aucune liste blanche publiée.")
    response = HttpResponse(current[1], content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = CACHE_CONTROL
    return response


@access(PUBLIC)
def version_xml(request, number):
    return _serve_version(request, public_cache.published(number))


# --- Conformance kit for DRIMbox vendors ----------------------------------------------------------------


def _code_spans(text):
    """The kit's texts mark code as Markdown does (`x`): HTML with <code>, everything else escaped."""
    parts = text.split("`")
    return format_html_join("", "{}", ((format_html("<code>{}</code>", part) if index % 2 else part,)
                                       for index, part in enumerate(parts)))


@access(PUBLIC)
def conformance_kit(request):
    kit = conformance.current_kit()
    return render(request, "whitelist/conformance.html", {
        "kit": kit, "manifest": kit.manifest,
        "procedure": [(title, _code_spans(text)) for title, text in conformance.PROCEDURE],
        "cases": [{**case, "defaut": _code_spans(case["defaut"]), "nom": case["fichier"].rpartition("/")[2]}
                  for case in kit.manifest["cas"]],
        "anchors": [{**anchor, "octets": anchor["sha256"].split(":"),
                     "jusqu_au": verify.parse_instant(anchor["valide_jusqu_au"])}
                    for anchor in kit.manifest["ancres"]],
        "valid_until": verify.parse_instant(kit.manifest["valide_jusqu_au"]),
        "xmlsec1_command": conformance.xmlsec1_command(multiline=True), "size_kb": (len(kit.data) + 1023) // 1024,
        "refused": sum(1 for case in kit.manifest["cas"] if case["verdict"] == "refuse"),
        "signer_cn": conformance.SIGNER_CN, "signer_ou": conformance.SIGNER_OU,
    })


@access(PUBLIC)
def conformance_kit_zip(request):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    kit = conformance.current_kit()
    if _not_modified(request, (kit.etag,), kit.generated_at):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(kit.data, content_type="application/zip")
        response["Content-Length"] = str(len(kit.data))
        response["Content-Disposition"] = f'attachment; filename="{conformance.ZIP_NAME}"'
    response["ETag"] = kit.etag
    response["Last-Modified"] = http_date(kit.generated_at.timestamp())
    response["Cache-Control"] = CACHE_CONTROL
    return response


# --- ANS ------------------------------------------------------------------------------------------


@access(ANS_ADMIN)
def history(request):
    return _history_page(request)


def _history_page(request, prepare_form=None):
    versions = WhitelistVersion.objects.select_related("prepared_by", "approved_by", "github_publication").defer(
        "unsigned_xml", "signed_xml")
    return render(request, "whitelist/history.html", {"versions": versions, "signer": signer_watch.signer_status(),
                                                      "version_due": pending.version_due(),
                                                      "github_configured": github_publish.configured(),
                                                      "prepare_form": prepare_form or PrepareForm(),
                                                      "failed_form": prepare_form})


@access(ANS_ADMIN)
@require_POST
def prepare(request):
    if repeated := repeat_response(request, request, "ans_whitelist"):
        return repeated
    form = PrepareForm(request.POST)
    if not form.is_valid():
        return _history_page(request, form)
    try:
        with submitted_once(request, form) as submission:
            version = services.prepare_version(acting_user=request.user, comment=form.cleaned_data["comment"])
            submission.created(reverse("ans_whitelist_version", kwargs={"number": version.number}),
                               f"voici la version {version.number} préparée")
    except AlreadySubmitted as repeat:
        return repeat.response(request, "ans_whitelist")
    except DomainError as exc:
        if field_errors_for(form, exc):
            apply_domain_error(form, exc)
            return _history_page(request, form)
        messages.error(request, exc.message)
        return redirect("ans_whitelist")
    messages.success(request, f"La version {version.number} est préparée : un autre administrateur ANS doit "
                              "l'approuver pour la publier.")
    return redirect("ans_whitelist_version", number=version.number)


@access(ANS_ADMIN)
def version_detail(request, number):
    return _version_page(request, number)


def _version_page(request, number, abandon_form=None):
    version = get_object_or_404(WhitelistVersion.objects.select_related("prepared_by", "approved_by"),
                                number=number)
    latest = services.last_published()
    return render(request, "whitelist/version_detail.html", {
        "version": version, "abandon_form": abandon_form or AbandonForm(), "failed_form": abandon_form,
        "github": GitHubPublication.objects.filter(version=version).first(),
        "github_configured": github_publish.configured(),
        "can_republish": github_publish.configured() and latest is not None and latest.pk == version.pk,
        "can_abandon": version.can_transition_to(WhitelistVersionStatus.ABANDONED),
        "can_publish": version.status == WhitelistVersionStatus.PREPARED and not (
            services.four_eyes() and version.prepared_by_id == request.user.pk),
        "is_preparer": version.prepared_by_id == request.user.pk,
        "four_eyes": services.four_eyes(),
    })


@access(ANS_ADMIN)
@require_POST
def publish(request, number):
    version = get_object_or_404(WhitelistVersion, number=number)
    page = reverse("ans_whitelist_version", kwargs={"number": number})
    try:
        with submitted_once(request, token_of(request)) as submission:
            services.approve_and_publish(version, acting_user=request.user)
            submission.created(page, f"la version {version.number} est déjà publiée")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"La version {version.number} est signée, vérifiée et publiée.")
    return redirect("ans_whitelist_version", number=number)


@access(ANS_ADMIN)
@require_POST
def github_republish(request, number):
    version = get_object_or_404(WhitelistVersion, number=number)
    page = reverse("ans_whitelist_version", kwargs={"number": number})
    try:
        with submitted_once(request, token_of(request)) as submission:
            services.republish_on_github(version, acting_user=request.user)
            submission.created(page, f"la version {version.number} est déjà relancée vers GitHub")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"La version {version.number} va être poussée sur GitHub ; rien n'est créé si le "
                                  "dépôt la contient déjà.")
    return redirect("ans_whitelist_version", number=number)


@access(ANS_ADMIN)
@require_POST
def abandon(request, number):
    version = get_object_or_404(WhitelistVersion, number=number)
    page = reverse("ans_whitelist_version", kwargs={"number": number})
    form = AbandonForm(request.POST)
    if not form.is_valid():
        return _version_page(request, number, form)
    try:
        with submitted_once(request, form) as submission:
            services.abandon_version(version, acting_user=request.user, reason=form.cleaned_data["reason"])
            submission.created(page, f"la version {version.number} est déjà abandonnée")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        if field_errors_for(form, exc):
            apply_domain_error(form, exc)
            return _version_page(request, number, form)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"La version {version.number} est abandonnée.")
    return redirect("ans_whitelist_version", number=number)


# --- Requests received through GitHub issues --------------------------------------------------------

GITHUB_REQUESTS_PER_PAGE = 50


@access(ANS_ADMIN)
def github_requests(request):
    status = request.GET.get("statut", "")
    rows = GitHubIssueRequest.objects.select_related("drimbox", "decided_by").defer("body")
    if status in GitHubIssueStatus.values:
        rows = rows.filter(status=status)
    page = Paginator(rows, GITHUB_REQUESTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "whitelist/github_requests.html", {
        "page": page, "status": status, "statuses": GitHubIssueStatus.choices,
        "waiting": GitHubIssueRequest.objects.filter(status=GitHubIssueStatus.TO_REVIEW).count(),
        "github_configured": github_publish.configured(),
    })


@access(ANS_ADMIN)
def github_request_detail(request, pk):
    return _github_request_page(request, pk)


def _decision_form(item, *args):
    candidates = list(services.linkable_requests(item)) if item.status == GitHubIssueStatus.TO_REVIEW else []
    return GitHubDecisionForm(*args, candidates=candidates, drimbox=item.drimbox), candidates


def _github_request_page(request, pk, decision_form=None):
    item = get_object_or_404(GitHubIssueRequest.objects.select_related(
        "drimbox", "decided_by", "portal_request", "applied_version"), pk=pk)
    form, candidates = _decision_form(item)
    return render(request, "whitelist/github_request_detail.html", {
        "item": item, "portal_link": github_issues.portal_link(item), "candidates": candidates,
        "decision_form": decision_form or form, "failed_form": decision_form})


@access(ANS_ADMIN)
@require_POST
def github_request_decide(request, pk):
    item = get_object_or_404(GitHubIssueRequest.objects.select_related("drimbox"), pk=pk)
    page = reverse("ans_github_request", kwargs={"pk": pk})
    decision = request.POST.get("decision")
    if decision not in ("accepter", "refuser"):
        messages.error(request, "Choisissez d'accepter ou de refuser la demande.")
        return redirect("ans_github_request", pk=pk)
    form, _candidates = _decision_form(item, request.POST)
    if not form.is_valid():
        return _github_request_page(request, pk, form)
    try:
        with submitted_once(request, form) as submission:
            services.decide(item, acting_user=request.user, accept=decision == "accepter",
                            comment=form.cleaned_data["comment"], portal_request=form.cleaned_data["portal_request"],
                            no_link_reason=form.cleaned_data["no_link_reason"])
            submission.created(page, "la décision est déjà enregistrée")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        if field_errors_for(form, exc):
            apply_domain_error(form, exc)
            return _github_request_page(request, pk, form)
        messages.error(request, exc.message)
    else:
        messages.success(request, "Décision enregistrée ; elle est publiée en commentaire de l'issue GitHub."
                         + (" L'issue sera fermée à la publication de la version qui applique la demande liée."
                            if decision == "accepter" and item.portal_request_id else ""))
    return redirect("ans_github_request", pk=pk)
