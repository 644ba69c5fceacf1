"""Certificate pages: a DRIMbox's certificates, a certificate, the dashboards, the quarterly export."""
from cryptography import x509
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from certificates import export, queries, services
from certificates.forms import (
    AcmeDnsForm,
    CertificateUploadForm,
    CloseRevocationForm,
    CsrUploadForm,
    MarketCertificateUploadForm,
    RevokeForm,
)
from certificates.models import (
    MARKET_SOURCES,
    AcmeDnsCredential,
    Certificate,
    CertificateKind,
    RefusedViCertificate,
    Revocation,
    RevocationStatus,
    ViOrder,
)
from certificates.validation import describe_certificate
from operators import permissions
from operators.context import active_operator
from operators.models import Drimbox
from operators.queries import visible_drimboxes
from trustspace.access import ANS_ADMIN, AUTHENTICATED, OPERATOR_MEMBER, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error, field_errors_for
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once


def _drimbox_or_404(request, pk):
    return get_object_or_404(visible_drimboxes(request.user).select_related("operator"), pk=pk)


def _page(request, drimbox, *, upload_form=None, csr_form=None, market_form=None, rejected=None, credentials=None):
    can_manage = permissions.can(request.user, "certificate.manage", drimbox.operator)
    certificates = drimbox.certificates.select_related("uploaded_by").order_by("-created_at")
    revocations = Revocation.objects.filter(certificate__drimbox=drimbox).select_related("certificate")
    refused = RefusedViCertificate.objects.filter(drimbox=drimbox)
    if not request.user.is_ans_admin:
        # After a switch, the new operator sees only its own certificates and their revocations.
        certificates = certificates.filter(operator=drimbox.operator)
        revocations = revocations.filter(certificate__operator=drimbox.operator)
        refused = refused.filter(operator=drimbox.operator)
    return render(request, "certificates/drimbox_certificates.html", {
        "drimbox": drimbox, "certificates": certificates[:50], "can_manage": can_manage,
        "upload_form": upload_form or CertificateUploadForm(), "csr_form": csr_form or CsrUploadForm(),
        "market_form": market_form or MarketCertificateUploadForm(),
        "revoke_form": RevokeForm(), "rejected": rejected, "credentials": credentials,
        "orders": ViOrder.objects.filter(drimbox=drimbox, operator=drimbox.operator)[:10],
        "revocations": revocations[:20],
        "refused_vi": refused[:10],
        "live_credential": AcmeDnsCredential.objects.filter(
            drimbox=drimbox, revoked_at__isnull=True, created_by__memberships__operator=drimbox.operator,
            created_by__memberships__ended_at__isnull=True).first(),
        "acme_dns_form": AcmeDnsForm(),
        "failed_form": next((form for form in (upload_form, csr_form, market_form) if form is not None and form.errors),
                            None),
    })


@access(AUTHENTICATED)
def drimbox_certificates(request, pk):
    return _page(request, _drimbox_or_404(request, pk))


def _upload(request, pk, form_class, form_name, upload, success):
    """A certificate upload (db, or vi from a market CA): one submission, the rules shown on refusal."""
    drimbox = _drimbox_or_404(request, pk)
    form = form_class(request.POST, request.FILES)
    if repeated := repeat_response(request, form, reverse("drimbox_certificates", args=[drimbox.pk])):
        return repeated
    if form.is_valid():
        try:
            with submitted_once(request, form) as submission:
                certificate = upload(drimbox, acting_user=request.user, uploaded_file=form.cleaned_data["file"])
                submission.created(reverse("certificate_detail", args=[certificate.pk]),
                                   "voici le certificat enregistré")
        except AlreadySubmitted as repeat:
            return repeat.response(request, reverse("drimbox_certificates", args=[drimbox.pk]))
        except services.CertificateRejected as exc:
            messages.error(request, exc.message)
            return _page(request, drimbox, rejected=exc.checks, **{form_name: form})
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            if any(check.get("ok") is None for check in certificate.checks or ()):
                # Saved, but not everything could be checked (an unreachable CRL…): no green box for that.
                messages.warning(request, f"{success(certificate)} Certaines règles n'ont pas pu être vérifiées : "
                                          "voir « Non vérifiable » ci-dessous.")
            else:
                messages.success(request, success(certificate))
            return redirect("certificate_detail", certificate.pk)
    return _page(request, drimbox, **{form_name: form})


@access(AUTHENTICATED)
@require_POST
def db_upload(request, pk):
    return _upload(request, pk, CertificateUploadForm, "upload_form", services.upload_db_certificate,
                   lambda certificate: f"Certificat db enregistré (numéro de série {certificate.serial}).")


def _vi_market_recorded(certificate):
    level = f", {certificate.validation_level}" if certificate.validation_level else ""
    return f"Certificat vi enregistré (autorité du marché{level}, numéro de série {certificate.serial})."


@access(AUTHENTICATED)
@require_POST
def vi_market_upload(request, pk):
    return _upload(request, pk, MarketCertificateUploadForm, "market_form", services.upload_vi_certificate,
                   _vi_market_recorded)


@access(AUTHENTICATED)
@require_POST
def vi_request(request, pk):
    drimbox = _drimbox_or_404(request, pk)
    form = CsrUploadForm(request.POST, request.FILES)
    page = reverse("drimbox_certificates", args=[drimbox.pk])
    if repeated := repeat_response(request, form, page):
        return repeated
    if form.is_valid():
        try:
            with submitted_once(request, form) as submission:
                services.request_vi_certificate(drimbox, acting_user=request.user,
                                                uploaded_csr=form.cleaned_data["file"])
                submission.created(page, "la demande de certificat vi est enregistrée (commandes ci-dessous)")
        except AlreadySubmitted as repeat:
            return repeat.response(request, page)
        except services.CertificateRejected as exc:
            messages.error(request, exc.message)
            return _page(request, drimbox, csr_form=form, rejected=exc.checks)
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            messages.success(request, "Demande enregistrée : le portail obtient le certificat vi auprès de "
                                      "l'autorité ACME et vous prévient par courriel.")
            return redirect("drimbox_certificates", drimbox.pk)
    return _page(request, drimbox, csr_form=form)


@access(AUTHENTICATED)
@require_POST
def acme_dns_register(request, pk):
    drimbox = _drimbox_or_404(request, pk)
    page = reverse("drimbox_certificates", args=[drimbox.pk])
    form = AcmeDnsForm(request.POST)
    if repeated := repeat_response(request, form, page):
        return repeated
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(page)
    try:
        with submitted_once(request, form) as submission:
            credential, password = services.register_acme_dns(drimbox, acting_user=request.user)
            submission.created(page, "les identifiants acme-dns sont créés, leur mot de passe n'est affiché "
                                     "qu'une fois")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(page)
    messages.success(request, "Identifiants acme-dns créés : notez le mot de passe, il ne sera plus affiché.")
    return _page(request, drimbox, credentials={"credential": credential, "password": password})


@access(AUTHENTICATED)
def certificate_detail(request, pk):
    certificate = get_object_or_404(Certificate.objects.select_related("drimbox", "operator"), pk=pk)
    if not permissions.can(request.user, "certificate.view", certificate.operator):
        raise Http404
    return _certificate_page(request, certificate)


def _reread(certificate):
    return Certificate.objects.select_related("drimbox", "operator").get(pk=certificate.pk)


def _certificate_page(request, certificate, revoke_form=None):
    """A certificate; ``revoke_form``: the revocation sent with errors, shown again with them next to the field."""
    leaf = x509.load_pem_x509_certificate(certificate.pem.encode())
    chain = [describe_certificate(c) for c in x509.load_pem_x509_certificates(certificate.chain_pem.encode())] \
        if certificate.chain_pem else []
    # The latest revocation asked for, while the certificate is not revoked: its state and error.
    revocation = None if certificate.revoked_at else certificate.revocations.order_by("-created_at", "-pk").first()
    return render(request, "certificates/certificate_detail.html", {
        "certificate": certificate, "info": describe_certificate(leaf), "chain": chain,
        "revoke_form": revoke_form or RevokeForm(), "failed_form": revoke_form,
        "revocation": revocation,
        "can_close_revocation": request.user.is_ans_admin and revocation is not None
        and revocation.status == RevocationStatus.IMPOSSIBLE,
        "can_manage": permissions.can(request.user, "certificate.manage", certificate.operator)
        and not certificate.revoked_at,
    })


@access(AUTHENTICATED)
@require_POST
def certificate_revoke(request, pk):
    certificate = get_object_or_404(Certificate.objects.select_related("operator"), pk=pk)
    if not permissions.can(request.user, "certificate.view", certificate.operator):
        raise Http404
    form = RevokeForm(request.POST)
    page = reverse("certificate_detail", args=[certificate.pk])
    if repeated := repeat_response(request, form, page):
        return repeated
    if not form.is_valid():
        return _certificate_page(request, _reread(certificate), form)
    try:
        with submitted_once(request, form) as submission:
            services.revoke_certificate(certificate, acting_user=request.user,
                                        reason=form.cleaned_data["reason"])
            submission.created(page, "la révocation est enregistrée")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        if field_errors_for(form, exc):
            apply_domain_error(form, exc)
            return _certificate_page(request, _reread(certificate), form)
        messages.error(request, exc.message)
    else:
        if certificate.source in MARKET_SOURCES:
            messages.success(request, "Révocation à effectuer auprès de l'autorité qui a délivré le certificat : "
                                      "le portail la constatera dans sa LCR (ou par OCSP).")
        elif certificate.kind == CertificateKind.VI:
            messages.success(request, "Révocation enregistrée : le portail la demande à l'autorité de certification, "
                                      "son état s'affiche ci-dessous.")
        else:
            messages.success(request, "Révocation à effectuer auprès de l'IGC-Santé : le portail la constatera "
                                      "dans la CRL.")
    return redirect("certificate_detail", certificate.pk)


def _related(queryset):
    return queryset.select_related("drimbox", "operator")


@access(OPERATOR_MEMBER)
def certificate_dashboard(request):
    operator = active_operator(request)
    context = queries.dashboard(operator.drimboxes.all(), _related(Certificate.objects.filter(operator=operator)))
    return render(request, "certificates/dashboard.html", {**context, "operator": operator, "ans": False})


@access(ANS_ADMIN)
def ans_certificate_dashboard(request):
    context = queries.dashboard(Drimbox.objects.select_related("operator"), _related(Certificate.objects.all()))
    return render(request, "certificates/dashboard.html", {**context, "ans": True})


@access(ANS_ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
def ans_revocation_close(request, pk):
    """« Clore sans révocation »: ANS closes a revocation the CA cannot do, with a reason; the switch or the
    withdrawal that called for it can then complete (``services.close_impossible_revocation``)."""
    revocation = get_object_or_404(Revocation.objects.select_related(
        "certificate", "certificate__drimbox", "certificate__operator", "pending_revocation", "closed_by"), pk=pk)
    dashboard = reverse("ans_certificates") + "#certificats-revocations"
    if request.method != "POST":
        return _close_page(request, revocation, CloseRevocationForm())
    form = CloseRevocationForm(request.POST)
    if repeated := repeat_response(request, form, dashboard):
        return repeated
    if not form.is_valid():
        return _close_page(request, revocation, form)
    try:
        with submitted_once(request, form) as submission:
            services.close_impossible_revocation(revocation, acting_user=request.user,
                                                 reason=form.cleaned_data["reason"])
            submission.created(dashboard, "la révocation est close sans révocation")
    except AlreadySubmitted as repeat:
        return repeat.response(request, dashboard)
    except DomainError as exc:
        apply_domain_error(form, exc)
        revocation.refresh_from_db()
        return _close_page(request, revocation, form)
    certificate = revocation.certificate
    messages.success(request, f"Révocation du certificat {certificate.kind} {certificate.serial} close sans "
                              "révocation : les administrateurs techniques de l'opérateur sont prévenus.")
    return redirect(dashboard)


def _close_page(request, revocation, form):
    return render(request, "certificates/revocation_close.html", {
        "revocation": revocation, "certificate": revocation.certificate, "pending": revocation.pending_revocation,
        "form": form, "closable": revocation.status == RevocationStatus.IMPOSSIBLE,
    })


@access(OPERATOR_MEMBER)
def certificate_export(request, fmt):
    operator = active_operator(request)
    permissions.require(request.user, "certificate.export", operator)
    stamp = timezone.localdate().isoformat()
    if fmt == "csv":
        response = HttpResponse(export.to_csv(operator), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(export.to_xlsx(operator), content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="certificats-{operator.siren}-{stamp}.{fmt}"'
    return response
