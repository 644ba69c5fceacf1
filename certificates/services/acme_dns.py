"""acme-dns-compatible challenge API: credentials that can only set the TXT records at
``_acme-challenge.<vi fqdn>`` of their DRIMbox (``certificates.views.acme_dns`` serves them)."""
from __future__ import annotations

import re
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from certificates.models import AcmeDnsCredential
from certificates.services.inventory import manageable, require_viewer
from operators.models import Drimbox, DrimboxStatus, Membership, Role
from trustspace import audit
from trustspace.dnszone import DnsError, ZoneClient
from trustspace.errors import Conflict, InvalidData, NotAllowed, NotAuthenticated
from trustspace.models import User

TXT_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock already held
BUSY = "Des identifiants acme-dns sont en cours de création pour cette DRIMbox : réessayez dans un instant."


def register_acme_dns(drimbox: Drimbox, *, acting_user: User) -> tuple[AcmeDnsCredential, str]:
    """New credentials for the DRIMbox's `_acme-challenge.vi<N>…` name; any previous ones stop working.

    One registration at a time per DRIMbox: while one is under way, another gets a 409 ``acme_dns_busy`` at once
    (it would otherwise queue, then create and revoke one more credential each)."""
    drimbox = manageable(drimbox, acting_user)
    require_viewer(drimbox)
    password = secrets.token_urlsafe(30)
    password_hash = make_password(password)  # the costly hash before taking the lock
    with transaction.atomic():
        try:
            Drimbox.objects.select_for_update(nowait=True).only("pk").get(pk=drimbox.pk)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            raise Conflict(BUSY, code="acme_dns_busy") from exc  # another registration holds the DRIMbox row
        AcmeDnsCredential.objects.filter(drimbox=drimbox, revoked_at__isnull=True).update(revoked_at=timezone.now())
        try:
            with transaction.atomic():
                credential = AcmeDnsCredential.objects.create(drimbox=drimbox, password_hash=password_hash,
                                                              created_by=acting_user)
        except IntegrityError as exc:  # a registration that escaped the lock (never a 500)
            raise Conflict(BUSY, code="acme_dns_busy") from exc
        audit.record(actor=acting_user, action="acme_dns.registered", obj=credential, operator_id=drimbox.operator_id,
                     after={"username": credential.username, "name": credential.challenge_name})
    return credential, password


def acme_dns_update(*, username: object, password: object, subdomain: object, txt: object,
                    dns: ZoneClient | None = None) -> AcmeDnsCredential:
    """Set the challenge TXT value (acme-dns keeps the last two). Only ever the credential's own name.

    An unknown (or revoked) username is refused before the password hash is computed, as acme-dns does: the
    answer is the same as for a wrong key, only faster, and usernames are random UUIDs (nothing to enumerate).
    The costly check is what the rate limits of ``certificates.views.acme_dns`` protect."""
    # The exact username: a suffixed one must be unknown, not matched by its first 36 characters (the per-username
    # limits count the header as sent).
    username = str(username or "")
    credential = (AcmeDnsCredential.objects.select_related("drimbox").filter(
        username=username, revoked_at__isnull=True).first() if 0 < len(username) <= 36 else None)
    if credential is None or not check_password(str(password or ""), credential.password_hash):
        raise NotAuthenticated("Identifiants acme-dns invalides.")
    if not Membership.objects.filter(user_id=credential.created_by_id, operator_id=credential.drimbox.operator_id,
                                     role=Role.TECHNICAL_ADMIN, ended_at__isnull=True).exists():
        # Issued for another operator (before a switch), or by someone who left: no longer valid.
        raise NotAuthenticated("Identifiants acme-dns invalides.")
    if str(subdomain or "") != credential.subdomain:
        raise NotAllowed("Ces identifiants ne permettent pas d'écrire ce nom.", code="forbidden")
    if credential.drimbox.status == DrimboxStatus.WITHDRAWN:
        raise NotAllowed("La DRIMbox est retirée.", code="forbidden")
    if not TXT_VALUE.fullmatch(str(txt or "")):
        raise InvalidData("Valeur TXT invalide : 43 caractères base64url attendus.", code="bad_txt",
                          field_errors={"txt": ["43 caractères base64url attendus."]})
    with transaction.atomic():
        credential = AcmeDnsCredential.objects.select_for_update().get(pk=credential.pk)
        values = [*credential.txt_values[-1:], txt]
        try:
            (dns or ZoneClient.from_settings()).set_txt(credential.challenge_name, values)
        except (DnsError, ValueError, ImproperlyConfigured) as exc:
            why = getattr(exc, "french", None) or "configuration DNS du portail invalide"
            raise Conflict(f"Le serveur DNS n'a pas pris la valeur : {why}.", code="dns_unavailable") from exc
        credential.txt_values = values
        credential.last_used_at = timezone.now()
        credential.save(update_fields=["txt_values", "last_used_at"])
        audit.record(actor=f"acme-dns {credential.username}", action="acme_dns.updated", obj=credential,
                     operator_id=credential.drimbox.operator_id, after={"name": credential.challenge_name})
    return credential
