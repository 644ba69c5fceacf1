"""The one write path for whitelist versions (DESIGN §7): prepare, then approve, sign, verify and publish.

``prepare_version`` builds the list from the current state and stores it (unsigned) with its diff
against the last published version. ``approve_and_publish`` is done by another ANS administrator
(``WHITELIST_FOUR_EYES``): it refuses when an active DRIMbox has no valid `db` certificate or the state
changed since preparation, signs the exact prepared bytes, verifies the result as a DRIMbox would and
stores it immutably, all in one transaction. Every failure is a ``DomainError`` with a French message.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from operators.models import Drimbox
from operators.notify import notify_operator
from trustspace import audit
from trustspace.errors import Conflict, NotAllowed
from trustspace.models import User
from trustspace.text import validate_display_text
from whitelist import builder, public_cache, signers, verify
from whitelist.github_publish import configured as github_configured
from whitelist.github_publish import snapshot as github_snapshot
from whitelist.models import GitHubPublication, PublishedEntry, WhitelistVersion, WhitelistVersionStatus
from whitelist.services.intake import note_applied_issues
from whitelist.services.publication import request_publication

ELEMENT_TO_FIELD = {element: name for name, element in builder.PUBLISHED_FIELDS}


class PublicationRefused(Conflict):
    code = "whitelist_publication_refused"


# Key of the PostgreSQL advisory lock that serialises preparations and publications (any constant bigint).
WHITELIST_WRITE_LOCK = 0x7768_6974_656C_7374  # "whitelst"


def _serialise_writes(message: str) -> None:
    """Only one preparation or publication at a time; a concurrent one gets a 409 at once instead of waiting.

    Called first in the transaction. The advisory lock is held until it ends. SQLite needs nothing: its
    transactions are IMMEDIATE (settings), so writers are serialised from their start."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [WHITELIST_WRITE_LOCK])
        if not cursor.fetchone()[0]:
            raise Conflict(message, code="whitelist_busy")


def _same_entries(left: list[builder.Entry], right: list[builder.Entry]) -> bool:
    """Same published DRIMboxes with the same published fields (``DateMAJ`` of new entries is the preparation time)."""
    return ({(e.identifiant, e.fields_sha256) for e in left} == {(e.identifiant, e.fields_sha256) for e in right}
            and len(left) == len(right))


def four_eyes() -> bool:
    return getattr(settings, "WHITELIST_FOUR_EYES", True)


def _require_ans(user: User) -> None:
    if not getattr(user, "is_ans_admin", False):
        raise NotAllowed("Réservé aux administrateurs ANS.")


def entries_of(xml: bytes) -> tuple[dt.datetime, list[builder.Entry]]:
    """The ``DateDeGeneration`` and entries of a list (signed or not), read with the verifier's reader."""
    root = verify.parse(xml).getroot()
    generated, rows = verify.read_entries(root)
    entries = []
    for row in rows:
        values = {ELEMENT_TO_FIELD[element]: row.get(element, "") for element in ELEMENT_TO_FIELD}
        entries.append(builder.Entry(identifiant=int(row["Identifiant"]), **values,
                                     date_maj=verify.parse_instant(row["DateMAJ"])))
    return generated, entries


def last_published() -> WhitelistVersion | None:
    return (WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED)
            .order_by("-number").first())


def _entry_json(entry: builder.Entry) -> dict[str, Any]:
    return {"identifiant": entry.identifiant, "db": entry.db, "denomination": entry.denomination}


def diff_json(previous: list[builder.Entry], current: list[builder.Entry]) -> dict[str, list[dict[str, Any]]]:
    d = builder.diff(previous, current)
    return {
        "added": [_entry_json(e) for e in d["added"]],
        "removed": [_entry_json(e) for e in d["removed"]],
        "changed": [{"identifiant": c["identifiant"], "db": c["after"].db,
                     "fields": {element: list(values) for element, values in c["fields"].items()}}
                    for c in d["changed"]],
    }


def prepare_version(*, acting_user: User, comment: str = "") -> WhitelistVersion:
    """A new version (status ``prepared``) from the current state; its diff may be empty (« aucun changement »).

    When the latest version is still « préparée » and lists exactly the same entries, it is returned as is (no
    duplicate, its comment is kept). A concurrent preparation or publication gives a 409 ``whitelist_busy``.
    The returned version's ``prepared_now`` says which (True: created by this call)."""
    _require_ans(acting_user)
    validate_display_text({"comment": comment or ""}, multiline={"comment"}, labels={"comment": "commentaire"})
    with transaction.atomic():
        _serialise_writes("Une version est déjà en préparation : réessayez dans un instant.")
        read_at = timezone.now()
        now = read_at.replace(microsecond=0)
        previous = last_published()
        latest = WhitelistVersion.objects.defer("signed_xml").order_by("-number").first()
        if latest is not None and latest.generated_at > now:
            now = latest.generated_at  # DateDeGeneration never goes backwards (a DRIMbox's rollback check)
        entries = builder.current_entries(now)
        if (latest is not None and latest.status == WhitelistVersionStatus.PREPARED
                and (previous is None or previous.published_at <= latest.generated_at)  # same diff base
                and _same_entries(entries_of(bytes(latest.unsigned_xml))[1], entries)):
            latest.prepared_now = False
            return latest
        previous_entries = entries_of(bytes(previous.signed_xml))[1] if previous is not None else []
        xml = builder.render(entries, generated_at=now)
        number = (latest.number if latest is not None else 0) + 1
        try:
            with transaction.atomic():
                version = WhitelistVersion.objects.create(
                    number=number, generated_at=now, prepared_at=read_at, unsigned_xml=xml, prepared_by=acting_user,
                    comment=(comment or "").strip()[:2000], diff=diff_json(previous_entries, entries),
                    entry_count=len(entries))
        except IntegrityError as exc:  # a concurrent preparation took this number (never a 500)
            raise Conflict("Une version est déjà en préparation : réessayez dans un instant.",
                           code="whitelist_busy") from exc
        audit.record(actor=acting_user, action="whitelist.version_prepared", obj=version,
                     after={"number": number, "entries": len(entries), "diff": version.diff})
    version.prepared_now = True
    return version


def _lock(version: WhitelistVersion) -> WhitelistVersion:
    # FOR NO KEY UPDATE (PostgreSQL): writers of the version still wait for each other, but not the foreign-key
    # checks of rows pointing at it (a GitHub publication updated twice in one transaction is checked again at its
    # commit, with a key-share lock on the version that FOR UPDATE would block: a deadlock with « Republier »,
    # which holds the version and waits for the publication).
    return WhitelistVersion.objects.select_for_update(no_key=True).get(pk=version.pk)


def publication_problems(entries: list[builder.Entry], now: dt.datetime) -> list[str]:
    """Reasons (French) that forbid publishing ``entries`` now."""
    problems = []
    for drimbox in builder.missing_certificates(now):
        problems.append(f"La DRIMbox {drimbox.identifiant} ({drimbox.db_fqdn}) est active mais n'a pas de "
                        "certificat db valide (manquant, expiré ou révoqué).")
    current = {e.identifiant: e for e in builder.current_entries(now)}
    for entry in entries:
        now_entry = current.get(entry.identifiant)
        if now_entry is None:
            if not any(str(entry.identifiant) in p for p in problems):
                problems.append(f"La DRIMbox {entry.identifiant} ({entry.db}) n'est plus publiable "
                                "(retirée ou sans certificat db valide).")
        elif now_entry.fields_sha256 != entry.fields_sha256:
            problems.append(f"La DRIMbox {entry.identifiant} ({entry.db}) a changé depuis la préparation : "
                            "préparez une nouvelle version.")
    missing = set(current) - {e.identifiant for e in entries}
    for identifiant in sorted(missing):
        problems.append(f"La DRIMbox {identifiant} est devenue publiable depuis la préparation : "
                        "préparez une nouvelle version.")
    return problems


def _anchors(signer: signers.BaseSigner) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """The configured anchors only; the signer's chain helps to build the path but is never trusted itself."""
    anchors = verify.load_certificates(list(settings.IGC_SANTE_ANCHORS))
    intermediates = verify.load_certificates(list(getattr(settings, "IGC_SANTE_INTERMEDIATES", [])))
    return anchors, intermediates + list(signer.chain)


def approve_and_publish(version: WhitelistVersion, *, acting_user: User,
                        signer: signers.BaseSigner | None = None) -> WhitelistVersion:
    """Approve, sign, self-verify and publish a prepared version; all or nothing."""
    _require_ans(acting_user)
    with transaction.atomic():
        _serialise_writes("Une autre version est en cours de préparation ou de publication : réessayez dans un "
                          "instant.")
        version = _lock(version)
        version.transition_to(WhitelistVersionStatus.PUBLISHED)  # saved below, once signed and verified
        if four_eyes() and version.prepared_by_id == acting_user.pk:
            raise NotAllowed("La version doit être approuvée par un autre administrateur ANS que celui qui l'a "
                             "préparée (principe des quatre yeux).", code="whitelist_four_eyes")
        previous = last_published()
        if previous is not None and (previous.number > version.number or previous.generated_at > version.generated_at):
            # A newer version supersedes this one: publishing it would move DateDeGeneration backwards.
            raise Conflict(f"Une version plus récente (v{previous.number}) est déjà publiée : la version "
                           f"{version.number} ne peut plus l'être, préparez une nouvelle version.",
                           code="whitelist_superseded")
        now = timezone.now()
        generated, entries = entries_of(bytes(version.unsigned_xml))
        problems = publication_problems(entries, now)
        if problems:
            raise PublicationRefused("Publication refusée : " + " ".join(problems))
        signer = signer or signers.configured_signer()
        signed = signer.sign(bytes(version.unsigned_xml), signing_time=now)
        anchors, intermediates = _anchors(signer)
        try:
            verified = verify.verify(
                signed, anchors=anchors, intermediates=intermediates, signer_cn=settings.WHITELIST_SIGNER_CN,
                signer_ou=settings.WHITELIST_SIGNER_OU, check_crl=False, at=now,
                not_before_generation=previous.generated_at if previous is not None else None,
                unique_identifiant=True)
        except verify.VerificationError as exc:
            raise PublicationRefused(f"Publication refusée : la liste signée ne passe pas la vérification "
                                     f"({exc.reason_code} : {exc.message}).") from exc
        if len(verified.entries) != len(entries):
            raise PublicationRefused("Publication refusée : la liste signée ne contient pas les entrées préparées.")
        version.signed_xml = signed
        version.sha256 = hashlib.sha256(signed).hexdigest()
        version.signer_subject = verified.signer_subject
        version.approved_by = acting_user
        version.published_at = now
        version.save()
        published_before = set(PublishedEntry.objects.values_list("identifiant", flat=True))
        record_published(entries, at=now)
        announce_entries_and_exits(version, published_before, entries)
        note_applied_issues(version)
        transaction.on_commit(public_cache.forget_current)  # this worker serves the new list at once
        github = None
        if github_configured():  # pushed to GitHub once this transaction has committed
            github = request_publication(version)[0].status
        audit.record(actor=acting_user, action="whitelist.version_published", obj=version,
                     after={"number": version.number, "sha256": version.sha256, "entries": len(entries),
                            "signer": version.signer_subject, "generated_at": generated, "github": github})
    return version


def republish_on_github(version: WhitelistVersion, *, acting_user: User) -> GitHubPublication:
    """ANS « Republier sur GitHub »: push the latest published version again (a no-op when GitHub has it)."""
    _require_ans(acting_user)
    if not github_configured():
        raise Conflict("La publication sur GitHub n'est pas configurée (WHITELIST_GITHUB_REPOSITORY est vide).")
    with transaction.atomic():
        version = _lock(version)
        if version.status != WhitelistVersionStatus.PUBLISHED:
            raise Conflict(f"La version {version.number} est {version.get_status_display()} : seule une version "
                           "publiée peut être poussée sur GitHub.")
        latest = last_published()
        if latest.pk != version.pk:
            raise Conflict(f"Seule la dernière version publiée (v{latest.number}) peut être republiée sur GitHub : "
                           "republier une version plus ancienne remettrait une liste périmée dans le dépôt.")
        publication, before = request_publication(version)
        audit.record(actor=acting_user, action="whitelist.github_republish_requested", obj=publication,
                     before=before, after=github_snapshot(publication))
    return publication


def announce_entries_and_exits(version: WhitelistVersion, published_before: set[int],
                               entries: list[builder.Entry]) -> None:
    """« DRIMbox intégrée » / « retirée » to the operator's people and channels, sent by the publication that
    first contains or first drops the DRIMbox (not at the approval, when the DRIMboxes do not know it yet)."""
    current = {entry.identifiant for entry in entries}
    entered, left = current - published_before, published_before - current
    for drimbox in Drimbox.objects.filter(identifiant__in=entered | left).order_by("identifiant"):
        if drimbox.identifiant in entered:
            subject, template, event = ("DRIMbox intégrée à l'Espace de Confiance", "drimbox_entered.txt",
                                        "drimbox.whitelist_entered")
            url = settings.SITE_URL + reverse("weather_drimbox", args=[drimbox.identifiant])
        else:
            subject, template, event = ("DRIMbox retirée de l'Espace de Confiance", "drimbox_left.txt",
                                        "drimbox.whitelist_left")
            url = settings.SITE_URL + reverse("drimbox_list")
        notify_operator(drimbox.operator_id, subject=f"{subject} : {drimbox.identifiant}",
                        template=f"whitelist/email/{template}",
                        context={"drimbox": drimbox, "version": version, "url": url}, event_type=event,
                        drimbox=drimbox, link=url)


def record_published(entries: list[builder.Entry], *, at: dt.datetime) -> None:
    """Remember the published entries (call inside the publishing transaction).

    An entry whose fields changed (or a new one) keeps the ``DateMAJ`` it was published with; entries
    no longer published are forgotten, so that a DRIMbox that comes back gets a new ``DateMAJ``.
    """
    at = builder.utc_seconds(at)
    existing = {p.identifiant: p for p in PublishedEntry.objects.select_for_update()}
    identifiants = set()
    for entry in entries:
        identifiants.add(entry.identifiant)
        digest = entry.fields_sha256
        row = existing.get(entry.identifiant)
        if row is None:
            PublishedEntry.objects.create(identifiant=entry.identifiant, fields_sha256=digest,
                                          date_maj=builder.utc_seconds(entry.date_maj or at), published_at=at)
        elif row.fields_sha256 != digest:
            row.fields_sha256 = digest
            row.date_maj = builder.utc_seconds(entry.date_maj or at)
            row.published_at = at
            row.save(update_fields=["fields_sha256", "date_maj", "published_at"])
        else:
            row.published_at = at
            row.save(update_fields=["published_at"])
    PublishedEntry.objects.exclude(identifiant__in=identifiants).delete()


def abandon_version(version: WhitelistVersion, *, acting_user: User, reason: str = "") -> WhitelistVersion:
    """Abandon a version not yet signed (préparée); a signed version is never abandoned."""
    _require_ans(acting_user)
    validate_display_text({"reason": reason or ""}, multiline={"reason"}, labels={"reason": "motif"})
    with transaction.atomic():
        version = _lock(version)
        before = {"status": version.status}
        version.transition_to(WhitelistVersionStatus.ABANDONED)
        version.save(update_fields=["status"])
        audit.record(actor=acting_user, action="whitelist.version_abandoned", obj=version, before=before,
                     after={"status": version.status}, reason=(reason or "").strip()[:2000])
    return version
