"""Watch of the whitelist signing certificate (DESIGN §7): DN, expiry and revocation.

* ``revocation(cert, chain, at)``: the signer against its issuing CA's CRL, through the CRL cache of
  ``certificates.trust`` (``CrlCache``); used at signing time by every backend (``signers.check_certificate``).
* ``signer_status(now=None)``: a dict for the ANS page (subject, DN as configured?, expiry, revocation — « révocation
  non vérifiable » when no current CRL answered —, level, French message). It reads only the signer's public
  certificate (``signers.public_certificate``): no PKCS#11 login, no eSignSanté call, PKCS#12 cached per file.
* ``watch_signer(now=None)``: e-mails the ANS administrators once per certificate and kind — at J-60, at
  J-15, when expired, when revoked — through ``whitelist.services.signer_notices.record_notice``, which records a
  ``SignerNotice`` (unique per fingerprint + kind) with an audit entry. ``watch_signer_task`` is its daily Celery task.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from celery import shared_task
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils import timezone

from trustspace.paris_time import paris_date, paris_datetime
from trustspace.technical_detail import split_detail, with_detail

from .models import SignerNoticeKind

logger = logging.getLogger(__name__)

WARN_DAYS = {SignerNoticeKind.EXPIRES_60: 60, SignerNoticeKind.EXPIRES_15: 15}
TASK_ACTOR = "tâche surveillance du signataire de la liste blanche"


# --------------------------------------------------------------------------- revocation

@dataclass(frozen=True)
class Revocation:
    revoked: bool
    known: bool  # a current CRL answered (GOOD or REVOKED)
    message: str
    revocation_date: dt.datetime | None = None


def _issuers_of(cert: x509.Certificate, chain) -> list[x509.Certificate]:
    """Candidate issuers: the signer's chain and the configured hierarchy, those whose key signed ``cert``."""
    from certificates.trust import hierarchy

    anchors, intermediates = hierarchy()
    found, seen = [], set()
    for candidate in (*chain, *intermediates, *anchors):
        if candidate.subject != cert.issuer:
            continue
        fingerprint = candidate.fingerprint(hashes.SHA256())
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        try:
            cert.verify_directly_issued_by(candidate)
        except (InvalidSignature, ValueError, TypeError):  # TypeError: another key type; not this issuer
            continue
        found.append(candidate)
    return found


def revocation(cert: x509.Certificate, chain=(), at: dt.datetime | None = None, *, fetch: bool = True) -> Revocation:
    """Is ``cert`` revoked at ``at``? Reads the cached CRL (fetched when missing and ``fetch``); never raises."""
    from certificates.trust import crl_status_for
    from certificates.validation import CrlStatus

    at = at or timezone.now()
    issuers = _issuers_of(cert, list(chain or ()))
    if not issuers:
        return Revocation(False, False, "autorité émettrice introuvable dans la hiérarchie configurée")
    status = crl_status_for(now=at, fetch_missing=fetch)
    reasons = []
    for issuer in issuers:
        try:
            verdict = status(cert, issuer)
        except Exception as exc:  # a broken cache row must not break signing with a 500
            logger.exception("CRL lookup for the whitelist signer failed")
            reasons.append(f"lecture de la LCR impossible ({type(exc).__name__})")  # the library's words: logged
            continue
        if verdict.status == CrlStatus.REVOKED:
            when = f"le {paris_date(verdict.revocation_date)}" if verdict.revocation_date else "date inconnue"
            motif = f", motif : {verdict.reason}" if verdict.reason else ""
            return Revocation(True, True, f"révoqué {when}{motif}", verdict.revocation_date)
        if verdict.status == CrlStatus.GOOD:
            return Revocation(False, True, "non révoqué (LCR à jour)")
        if verdict.status == CrlStatus.STALE:
            reasons.append("LCR périmée")
        else:
            reasons.append(verdict.reason or "LCR indisponible")
    return Revocation(False, False, " ; ".join(reasons) or "LCR indisponible")


# --------------------------------------------------------------------------- status

def _attribute(cert: x509.Certificate, oid) -> list[str]:
    return [a.value for a in cert.subject.get_attributes_for_oid(oid)]


def dn_matches(cert: x509.Certificate) -> bool:
    """CN and OU as the DRIMboxes check them (``WHITELIST_SIGNER_CN`` / ``WHITELIST_SIGNER_OU``)."""
    return (_attribute(cert, NameOID.COMMON_NAME) == [settings.WHITELIST_SIGNER_CN]
            and settings.WHITELIST_SIGNER_OU in _attribute(cert, NameOID.ORGANIZATIONAL_UNIT_NAME))


def days_left(cert: x509.Certificate, now: dt.datetime) -> int:
    return (cert.not_valid_after_utc - now) // dt.timedelta(days=1)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def notice_kind(cert: x509.Certificate, now: dt.datetime, revoked: bool) -> str | None:
    """The warning due for ``cert`` now (the most serious one), or None."""
    if revoked:
        return SignerNoticeKind.REVOKED
    if now > cert.not_valid_after_utc:
        return SignerNoticeKind.EXPIRED
    left = days_left(cert, now)
    if left <= WARN_DAYS[SignerNoticeKind.EXPIRES_15]:
        return SignerNoticeKind.EXPIRES_15
    if left <= WARN_DAYS[SignerNoticeKind.EXPIRES_60]:
        return SignerNoticeKind.EXPIRES_60
    return None


def signer_status(now: dt.datetime | None = None, *, fetch: bool = False) -> dict:
    """State of the configured signer for the ANS page. ``level`` is one of
    ``ok|j60|j15|crl_unknown|expired|revoked|dn_mismatch|unavailable`` (the most serious applies; ``crl_unknown``
    only when ``WHITELIST_SIGNER_REQUIRE_CRL`` makes an unknown revocation status block the signature). Keys: backend,
    expected_dn, subject, dn_ok, not_after, days_left, fingerprint, revocation, revocation_known, level, message,
    alert (the DSFR alert type that carries the message: success, info, warning or error)."""
    return _evaluate(now, fetch=fetch)[0]


def _evaluate(now, *, fetch):
    from . import signers

    now = now or timezone.now()
    expected = f"CN={settings.WHITELIST_SIGNER_CN}, OU={settings.WHITELIST_SIGNER_OU}"
    status = {"backend": signers.backend_name(), "expected_dn": expected, "subject": "", "dn_ok": None,
              "not_after": None, "days_left": None, "fingerprint": "", "revocation": "", "revocation_known": None,
              "level": "unavailable", "alert": "warning", "message": ""}
    try:
        # Only the public certificate: no PKCS#11 login, no eSignSanté call, a PKCS#12 decrypted once per file.
        cert, chain = signers.public_certificate()
    except signers.SignerError as exc:
        # The library's or service's own words stay in the technical detail ({% error_with_detail %}).
        status["message"] = with_detail(f"Signataire de la liste blanche indisponible : {exc.message}",
                                        exc.detail)
        return status, None
    except Exception as exc:  # never a 500 on the ANS page
        logger.exception("whitelist signer status failed")
        status["message"] = f"Signataire de la liste blanche indisponible (erreur {type(exc).__name__})."
        return status, None
    if cert is None:
        status["message"] = ("Le certificat du signataire de la liste blanche est inconnu (il sera connu après la "
                             "première signature, ou indiquez-le dans la configuration).")
        return status, None
    state = revocation(cert, chain, now, fetch=fetch)
    left = days_left(cert, now)
    status.update(subject=signers.describe(cert), dn_ok=dn_matches(cert), not_after=cert.not_valid_after_utc,
                  days_left=left, fingerprint=fingerprint(cert), revocation_known=state.known,
                  revocation=state.message if state.known or state.revoked
                  else f"révocation non vérifiable ({state.message})")
    crl_required = getattr(settings, "WHITELIST_SIGNER_REQUIRE_CRL", False)
    kind = notice_kind(cert, now, state.revoked)
    until = paris_date(cert.not_valid_after_utc)
    if kind == SignerNoticeKind.REVOKED:
        level = "revoked"
        message = f"Le certificat de signature est révoqué ({state.message}) : aucune publication possible."
    elif kind == SignerNoticeKind.EXPIRED:
        level, message = "expired", f"Le certificat de signature a expiré le {until} : aucune publication possible."
    elif not status["dn_ok"]:
        level, message = "dn_mismatch", (f"Le DN du certificat de signature ({status['subject']}) ne correspond pas à "
                                         f"celui attendu par les DRIMbox ({expected}) : la publication sera refusée.")
    elif not state.known and crl_required:
        level, message = "crl_unknown", (f"Révocation non vérifiable du certificat de signature ({state.message}) : "
                                         "la publication sera refusée tant que la LCR n'est pas lisible "
                                         "(WHITELIST_SIGNER_REQUIRE_CRL).")
    elif kind == SignerNoticeKind.EXPIRES_15:
        level, message = "j15", f"Le certificat de signature expire dans {left} jour(s) (le {until}) : renouvelez-le."
    elif kind == SignerNoticeKind.EXPIRES_60:
        level = "j60"
        message = f"Le certificat de signature expire dans {left} jours (le {until}) : préparez son renouvellement."
    else:
        level, message = "ok", f"Certificat de signature valide jusqu'au {until} ({left} jours)."
    if not state.known and level in ("ok", "j60", "j15"):
        message += " Révocation non vérifiable : LCR indisponible."
    status.update(level=level, message=message, alert=_alert(level, state.known))
    return status, cert


def _alert(level: str, revocation_known: bool) -> str:
    """The DSFR alert that carries the signer's message: a success only when nothing is left to check (a
    certificate whose revocation could not be verified is a warning, never a green box)."""
    if level in ("ok", "j60") and not revocation_known:
        return "warning"
    return {"ok": "success", "j60": "info", "j15": "warning", "unavailable": "warning"}.get(level, "error")


# --------------------------------------------------------------------------- notices

SUBJECTS = {
    SignerNoticeKind.EXPIRES_60: "Le certificat de signature de la liste blanche expire dans 60 jours",
    SignerNoticeKind.EXPIRES_15: "Le certificat de signature de la liste blanche expire dans 15 jours",
    SignerNoticeKind.EXPIRED: "Le certificat de signature de la liste blanche a expiré",
    SignerNoticeKind.REVOKED: "Le certificat de signature de la liste blanche est révoqué",
}


def _email_body(status: dict, kind: str) -> str:
    not_after = status["not_after"]
    return "\n".join([
        "Bonjour,",
        "",
        f"{SUBJECTS[kind]}.",
        "",
        f"Signataire : {status['subject']}",
        f"Empreinte SHA-256 : {status['fingerprint']}",
        f"Fin de validité : {paris_datetime(not_after)}" if not_after else "",
        f"Révocation : {status['revocation']}",
        "",
        split_detail(status["message"])[0],
        "",
        f"Suivi : {settings.SITE_URL}",
    ])


def watch_signer(now: dt.datetime | None = None) -> dict:
    """Daily check: warn ANS about the configured signer (J-60, J-15, expired, revoked), once each."""
    now = now or timezone.now()
    status, cert = _evaluate(now, fetch=True)
    status["notice"] = None
    if cert is None:
        logger.warning("whitelist signer watch: %s", status["message"])
        return status
    kind = notice_kind(cert, now, status["level"] == "revoked")
    if kind is not None:
        from whitelist.services.signer_notices import record_notice  # the service reads this module's texts

        notice = record_notice(cert=cert, kind=kind, status=status)
        status["notice"] = kind if notice is not None else None
    return status


@shared_task
def watch_signer_task():
    """Celery beat: daily watch of the whitelist signing certificate."""
    status = watch_signer()
    return {"level": status["level"], "notice": status["notice"]}
