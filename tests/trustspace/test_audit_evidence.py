"""Evidence nobody can trim: the keyed audit chain, its database protections and its external anchors.

Each tampering is tried twice where it applies: against the database's triggers (refused) and, as a superuser
or someone holding the database file would, with the triggers out of the way (``audit_verify`` names the first
bad row and exits 1).
"""
import base64
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from trustspace import audit
from trustspace.models import AuditEntry, AuditHead, OutboxMessage
from trustspace.outbox import deliver_due

KEY_1 = b"1" * 32
KEY_2 = b"2" * 32
ATTACKER_KEY = b"x" * 32
REFUSED = (DatabaseError, IntegrityError)
SQLITE_TRIGGERS = ("trustspace_audit_no_update", "trustspace_audithead_forward_only",
                   "trustspace_audithead_no_delete", "trustspace_audithead_insert_once")

on_postgresql = pytest.mark.postgresql  # PostgreSQL triggers


@pytest.fixture
def keys(settings):
    settings.AUDIT_HMAC_KEYS = {"k1": KEY_1, "k2": KEY_2}
    settings.AUDIT_HMAC_CURRENT_KEY_ID = "k1"
    return settings


@pytest.fixture
def admins(settings):
    settings.ADMINS = [("ANS", "securite@ans.example.fr")]
    mail.outbox.clear()


@pytest.fixture
def trail(db, keys, make_user):
    """Twenty audit rows sealed with key k1."""
    user = make_user("auditeur")
    write(20, user)
    return user


def write(count, obj, actor=None):
    with transaction.atomic():
        for i in range(count):
            audit.record(actor=actor or obj, action="test.action", obj=obj, after={"i": i}, reason=f"essai {i}")


def rows():
    return list(AuditEntry.objects.order_by("seq"))


def head():
    return AuditHead.objects.get(id=1)


@contextmanager
def triggers_out_of_the_way():
    """What someone with superuser access (PostgreSQL) or the database file (SQLite) does first."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    yield


def run(command, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def settle_deferred_checks(cursor):
    """TRUNCATE is refused while this test's own foreign-key checks are still pending."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def empty_the_trail():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            settle_deferred_checks(cursor)
            cursor.execute("TRUNCATE trustspace_auditentry")
        else:
            cursor.execute("DELETE FROM trustspace_auditentry")


def reinsert(entries, seal=None):
    """Insert copies of rows; ``seal(entry)`` gives each a new seal, chained by the attacker."""
    prev = audit.GENESIS_HASH
    for entry in entries:
        entry.pk = None
        if seal is not None:
            entry.prev_hash = prev
            entry.hash = seal(entry)
        entry.save(force_insert=True)
        prev = entry.hash
    return entries


def set_head(entry):
    AuditHead.objects.filter(id=1).update(seq=entry.seq, hash=entry.hash, key_id=entry.key_id)


def sha256_without_key(entry):
    entry.key_id = ""
    return audit.legacy_hash(entry)


def hmac_with(key):
    def seal(entry):
        return audit.compute_hash(entry, key)
    return seal


# --- the keyed chain ------------------------------------------------------------------------------------------

def test_rows_are_sealed_with_hmac_under_the_current_key(trail):
    entry = rows()[-1]
    assert entry.key_id == "k1"
    payload = audit._payload(entry)
    expected = hmac.new(KEY_1, b"drimm-audit-row\x00" + audit._canonical(payload), hashlib.sha256).hexdigest()
    assert entry.hash == expected != hashlib.sha256(audit._canonical(payload)).hexdigest()
    assert (head().seq, head().hash, head().key_id) == (entry.seq, entry.hash, "k1")
    assert run("audit_verify") == (0, "OK : chaîne d'audit intacte (20 lignes)\n")


def test_the_key_is_never_stored_in_the_database(trail):
    secret_forms = {KEY_1.hex(), base64.b64encode(KEY_1).decode(), KEY_1.decode()}
    for entry in AuditEntry.objects.values():
        assert not any(form in json.dumps(entry, default=str) for form in secret_forms)


def test_a_verifier_without_the_key_cannot_check_and_says_so(trail, settings):
    settings.AUDIT_HMAC_KEYS = {"k2": KEY_2}
    code, output = run("audit_verify")
    assert code == 1
    assert f"ligne #1 (id {rows()[0].pk}) : scellée avec la clé « k1 » inconnue du vérificateur" in output


# --- what the database refuses ------------------------------------------------------------------------------

@on_postgresql
@pytest.mark.parametrize("table", ["trustspace_auditentry", "trustspace_audithead"])
def test_postgresql_refuses_truncate(trail, table):
    with pytest.raises(DatabaseError, match="TRUNCATE refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            settle_deferred_checks(cursor)
            cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEntry.objects.count() == 20 and head().seq == 20


@on_postgresql
def test_postgresql_refuses_deleting_audit_rows_even_the_newest(trail):
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEntry.objects.filter(seq__gte=16).delete()


def test_database_refuses_to_rewind_the_head(trail):
    fifteenth = AuditEntry.objects.get(seq=15)
    with pytest.raises(REFUSED):
        with transaction.atomic():
            set_head(fifteenth)
    assert head().seq == 20


def test_database_refuses_a_head_that_jumps_or_names_another_seal(trail):
    with pytest.raises(REFUSED):  # a row that does not exist yet
        with transaction.atomic():
            AuditHead.objects.filter(id=1).update(seq=21, hash="f" * 64)
    with pytest.raises(REFUSED):  # the same row, another seal
        with transaction.atomic():
            AuditHead.objects.filter(id=1).update(seq=head().seq, hash="f" * 64)


def test_database_refuses_deleting_or_recreating_the_head(trail):
    with pytest.raises(REFUSED):
        with transaction.atomic():
            AuditHead.objects.filter(id=1).delete()
    assert AuditHead.objects.filter(id=1).exists()
    with pytest.raises(REFUSED):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO trustspace_audithead (id, seq, hash, key_id) VALUES (2, 0, %s, '')",
                           [audit.GENESIS_HASH])


def test_database_refuses_changing_audit_rows(trail):
    with pytest.raises(REFUSED):
        with transaction.atomic():
            AuditEntry.objects.filter(seq=5).update(reason="effacé")


# --- what verification catches once the triggers are out of the way ---------------------------------------------

def test_changed_row_is_named(trail):
    target = AuditEntry.objects.get(seq=7)
    with triggers_out_of_the_way():
        AuditEntry.objects.filter(pk=target.pk).update(after={"i": "falsifié"})
    code, output = run("audit_verify")
    assert code == 1
    assert f"CHAÎNE ROMPUE à la ligne #7 (id {target.pk}) : contenu modifié" in output


def test_deleted_row_is_named(trail):
    follower = AuditEntry.objects.get(seq=9)
    with triggers_out_of_the_way():
        AuditEntry.objects.filter(seq=8).delete()
    code, output = run("audit_verify")
    assert code == 1
    assert f"ligne #9 (id {follower.pk}) : la ligne #8 qui la précède a été supprimée" in output


def test_deleted_tail_is_detected_by_the_head(trail):
    with triggers_out_of_the_way():
        AuditEntry.objects.filter(seq__gte=16).delete()
    code, output = run("audit_verify")
    assert code == 1
    assert "ligne #16 : supprimée (la tête de chaîne annonce 20 lignes, 15 présentes)" in output


def test_rewound_head_is_detected(trail):
    with triggers_out_of_the_way():
        set_head(AuditEntry.objects.get(seq=15))
    code, output = run("audit_verify")
    assert code == 1
    sixteenth = AuditEntry.objects.get(seq=16)
    assert f"ligne #16 (id {sixteenth.pk}) : au-delà de la tête de chaîne, qui annonce la ligne #15" in output


def test_truncation_is_detected(trail):
    with triggers_out_of_the_way():
        empty_the_trail()
    code, output = run("audit_verify")
    assert code == 1
    assert "ligne #1 : supprimée (la tête de chaîne annonce 20 lignes, 0 présentes)" in output


@pytest.mark.parametrize("seal, message", [
    (sha256_without_key, "15 lignes scellées sans clé (SHA-256 simple) et aucune ligne scellée par clé après elles"),
    (hmac_with(ATTACKER_KEY), "contenu modifié ou ligne scellée sans la clé"),
], ids=["plain-sha256", "hmac-wrong-key"])
def test_truncation_and_reinsertion_resealed_without_the_key_is_detected(trail, seal, message):
    """The attack of the issue: TRUNCATE, re-insert every row but the last five with fresh seals, rewind the head."""
    kept = rows()[:15]
    with triggers_out_of_the_way():
        empty_the_trail()
        for entry in kept:
            entry.reason = "réécrit"
        rebuilt = reinsert(kept, seal)
        set_head(rebuilt[-1])
    code, output = run("audit_verify")
    assert code == 1
    assert f"ligne #1 (id {rebuilt[0].pk}) : {message}" in output


def test_one_row_resealed_with_a_wrong_key_is_named(trail):
    target = AuditEntry.objects.get(seq=12)
    target.reason = "réécrit"
    with triggers_out_of_the_way():
        AuditEntry.objects.filter(pk=target.pk).update(reason=target.reason,
                                                      hash=audit.compute_hash(target, ATTACKER_KEY))
    code, output = run("audit_verify")
    assert code == 1 and f"ligne #12 (id {target.pk}) : contenu modifié ou ligne scellée sans la clé" in output


def reseal_from(seq, seal, change=lambda entry: None):
    """Rewrite rows from ``seq`` on, each re-chained on the previous one and sealed by ``seal``."""
    entries = rows()
    prev = entries[seq - 2].hash
    for entry in entries[seq - 1:]:
        change(entry)
        entry.prev_hash = prev
        entry.hash = prev = seal(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(prev_hash=entry.prev_hash, hash=entry.hash,
                                                      key_id=entry.key_id, reason=entry.reason)
    set_head(entries[-1])
    return entries


def test_rows_resealed_with_plain_sha256_after_keyed_rows_are_named(trail):
    with triggers_out_of_the_way():
        entries = reseal_from(11, sha256_without_key)
    code, output = run("audit_verify")
    assert code == 1
    assert f"ligne #11 (id {entries[10].pk}) : scellée sans clé (SHA-256 simple) après des lignes scellées" in output


def test_reinserting_the_original_rows_minus_the_tail_needs_the_anchor(trail, tmp_path, admins):
    """Copies of the genuine rows verify on their own: only a copy of the head kept outside the database
    (the anchor) shows that the five newest rows are gone."""
    anchors = tmp_path / "ancres.jsonl"
    audit.write_anchor(anchors)
    kept = rows()[:15]
    with triggers_out_of_the_way():
        empty_the_trail()
        reinsert(kept)
        set_head(kept[-1])
    assert run("audit_verify")[0] == 0  # the database alone cannot tell
    code, output = run("audit_verify", "--anchor", str(anchors))
    assert code == 1
    assert "ligne #16 : supprimée : l'ancre du " in output and "atteste 20 lignes, 15 présentes" in output


def test_an_insider_with_the_key_cannot_rewrite_anchored_history(trail, tmp_path):
    anchors = tmp_path / "ancres.jsonl"
    audit.write_anchor(anchors)

    def arrange(entry):
        if entry.seq == 10:
            entry.reason = "version arrangée"

    with triggers_out_of_the_way():
        entries = reseal_from(10, audit.compute_hash, arrange)  # with the genuine key: the chain verifies again
    assert run("audit_verify")[0] == 0
    code, output = run("audit_verify", "--anchor", str(anchors))
    assert code == 1
    assert f"ligne #20 (id {entries[-1].pk}) : ne correspond pas à l'ancre du " in output


# --- anchors -------------------------------------------------------------------------------------------------

def test_audit_anchor_appends_a_signed_line_and_mails_it(trail, settings, tmp_path, admins):
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "sub" / "ancres.jsonl")
    assert run("audit_anchor")[0] == 0
    write(2, trail)
    code, output = run("audit_anchor")
    assert code == 0 and "ligne #22" in output
    lines = (tmp_path / "sub" / "ancres.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [20, 22]
    deliver_due()  # the anchors are mailed through the outbox (a worker delivers them once committed)
    anchor = json.loads(lines[-1])
    assert anchor["hash"] == head().hash and anchor["key_id"] == "k1" and anchor["anchor_key_id"] == "k1"
    assert [m.to for m in mail.outbox] == [["securite@ans.example.fr"]] * 2
    assert "ligne #22" in mail.outbox[-1].subject and lines[-1] in mail.outbox[-1].body
    code, output = run("audit_verify", "--anchor", settings.AUDIT_ANCHOR_FILE)
    assert (code, output) == (0, "OK : chaîne d'audit intacte (22 lignes, 2 ancres vérifiées)\n")


def test_anchor_directory_gets_one_file_per_anchor(trail, tmp_path):
    directory = tmp_path / "bucket"
    directory.mkdir()
    audit.write_anchor(directory)
    write(1, trail)
    audit.write_anchor(str(directory) + os.sep)
    assert len(list(directory.iterdir())) == 2
    assert run("audit_verify", "--anchor", str(directory)) == (0, "OK : chaîne d'audit intacte (21 lignes, "
                                                                   "2 ancres vérifiées)\n")


@pytest.mark.parametrize("forge", [
    lambda anchor: {**anchor, "seq": 5, "hash": AuditEntry.objects.get(seq=5).hash},
    lambda anchor: {**anchor, "mac": hmac.new(ATTACKER_KEY, b"x", hashlib.sha256).hexdigest()},
], ids=["moved-back", "attacker-mac"])
def test_a_forged_anchor_is_refused(trail, tmp_path, forge):
    anchors = tmp_path / "ancres.jsonl"
    anchors.write_text(json.dumps(forge(audit.make_anchor())) + "\n")
    code, output = run("audit_verify", "--anchor", str(anchors))
    assert code == 1 and "ANCRE REFUSÉE : ancre (ancres.jsonl, ligne 1) : signature invalide" in output


def test_an_unreadable_anchor_file_fails(trail, tmp_path):
    broken = tmp_path / "ancres.jsonl"
    broken.write_text("pas du json\n")
    assert run("audit_verify", "--anchor", str(broken))[0] == 1
    assert run("audit_verify", "--anchor", str(tmp_path / "absent.jsonl"))[0] == 1


def test_anchor_task_is_scheduled_daily_and_writes_file_and_mail(trail, settings, admins):
    from trustspace.tasks import anchor_audit_chain

    schedule = settings.CELERY_BEAT_SCHEDULE["anchor-audit-chain"]
    assert schedule["task"] == "trustspace.tasks.anchor_audit_chain"
    assert schedule["schedule"] <= timedelta(days=1)
    result = anchor_audit_chain.delay().get()
    assert result["seq"] == 20 and result["file"] == settings.AUDIT_ANCHOR_FILE
    assert anchor_audit_chain.delay().get()["seq"] == 20  # the same head anchored again: not mailed again
    deliver_due()
    assert len(mail.outbox) == 1 and "ancre de la ligne #20" in mail.outbox[0].subject
    assert mail.outbox[0].to == ["securite@ans.example.fr"]
    assert OutboxMessage.objects.filter(dedup_key="audit-anchor:20", status="sent").count() == 1


def test_daily_verification_uses_the_anchors_and_mails_the_admins(trail, settings, admins):
    from trustspace.tasks import verify_audit_chain

    audit.write_anchor()  # settings.AUDIT_ANCHOR_FILE
    assert verify_audit_chain.delay().get() == {"ok": True, "count": 20, "reason": ""}
    assert mail.outbox == []
    kept = rows()[:15]
    with triggers_out_of_the_way():
        empty_the_trail()
        reinsert(kept)
        set_head(kept[-1])
    result = verify_audit_chain.delay().get()
    assert result["ok"] is False and result["reason"].startswith("ligne #16 : supprimée : l'ancre du ")
    from trustspace.outbox import deliver_due

    deliver_due()  # an ANS alert now (trustspace.alerts), sent through the outbox
    assert mail.outbox[-1].subject.endswith("Journal d'audit : chaîne rompue")
    assert mail.outbox[-1].to == ["securite@ans.example.fr"] and "ligne #16" in mail.outbox[-1].body


# --- key rotation ----------------------------------------------------------------------------------------------

def test_key_rotation_at_the_next_write_is_recorded_and_verifies(trail, settings, tmp_path):
    anchors = tmp_path / "ancres.jsonl"
    audit.write_anchor(anchors)
    settings.AUDIT_HMAC_CURRENT_KEY_ID = "k2"
    write(3, trail)
    rotation, *after = rows()[20:]
    assert rotation.action == "audit.key_rotated" and rotation.key_id == "k2"
    assert rotation.after["from"] == "k1" and rotation.after["to"] == "k2" and rotation.after["old_key_seal"]
    assert [entry.key_id for entry in after] == ["k2"] * 3
    audit.write_anchor(anchors)
    assert run("audit_verify", "--anchor", str(anchors)) == (
        0, "OK : chaîne d'audit intacte (24 lignes, 2 ancres vérifiées)\n")


def test_audit_rotate_key_command(trail, settings):
    settings.AUDIT_HMAC_CURRENT_KEY_ID = "k2"
    with pytest.raises(CommandError, match="AUDIT_HMAC_CURRENT_KEY_ID vaut « k2 »"):
        call_command("audit_rotate_key", "--to", "k3", stdout=io.StringIO())
    assert run("audit_rotate_key", "--to", "k2") == (
        0, "Rotation inscrite : ligne #21, désormais scellée avec la clé « k2 ».\n")
    assert run("audit_rotate_key")[1] == "Rien à faire : la chaîne est déjà scellée avec la clé « k2 ».\n"
    assert head().key_id == "k2" and run("audit_verify")[0] == 0


def test_rotation_needs_the_old_key(trail, settings):
    settings.AUDIT_HMAC_KEYS = {"k2": KEY_2}
    settings.AUDIT_HMAC_CURRENT_KEY_ID = "k2"
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="« k1 » est absente de AUDIT_HMAC_KEYS"):
        write(1, trail)
    assert head().seq == 20


def test_a_switch_of_key_without_rotation_is_detected(trail, settings):
    """Someone holding only a newer key cannot continue the chain without the old key's consent."""
    settings.AUDIT_HMAC_CURRENT_KEY_ID = "k2"
    with triggers_out_of_the_way(), transaction.atomic():
        last = head()
        entry = audit._new_entry(AuditEntry, head=last, key_id="k2", actor=trail, action="test.action",
                                 object_type="trustspace.user", object_id=str(trail.pk), object_repr="x")
        entry.hash = audit.compute_hash(entry)
        audit._append(entry, AuditHead)
    code, output = run("audit_verify")
    assert code == 1 and f"ligne #21 (id {entry.pk}) : changement de clé « k1 » → « k2 » sans rotation" in output


def test_a_rotation_forged_without_the_old_key_is_detected(trail, settings):
    settings.AUDIT_HMAC_CURRENT_KEY_ID = "k2"
    with triggers_out_of_the_way(), transaction.atomic():
        entry = audit._new_entry(AuditEntry, head=head(), key_id="k2", actor=None, action="audit.key_rotated",
                                 object_type="trustspace.audithead", object_id="1", object_repr="chaîne d'audit",
                                 after={"from": "k1", "to": "k2"})
        entry.after = {**entry.after, "old_key_seal": audit._rotation_seal(entry, ATTACKER_KEY)}
        entry.hash = audit.compute_hash(entry)
        audit._append(entry, AuditHead)
    code, output = run("audit_verify")
    assert code == 1 and f"ligne #21 (id {entry.pk}) : rotation de clé non scellée par l'ancienne clé « k1 »" in output


# --- legacy rows (databases from before the keys) ----------------------------------------------------------

def append_legacy(count, obj):
    """Rows as the unkeyed chain wrote them before keys existed (the database accepts these moves)."""
    with transaction.atomic():
        for i in range(count):
            last = audit._locked_head()
            entry = audit._new_entry(AuditEntry, head=last, key_id="", actor=obj, action="legacy.action",
                                     object_type="trustspace.user", object_id=str(obj.pk), object_repr=str(obj),
                                     after={"i": i})
            entry.hash = audit.legacy_hash(entry)
            audit._append(entry, AuditHead)


@pytest.fixture
def legacy_trail(db, keys, make_user):
    user = make_user("ancien")
    append_legacy(6, user)
    return user


def test_legacy_rows_are_sealed_by_the_migration_and_keep_verifying(legacy_trail):
    seal = audit.seal_legacy_rows(AuditEntry, AuditHead)  # what 0003_audit_keyed runs
    assert seal.seq == 7 and seal.action == "audit.chain_keyed" and seal.key_id == "k1"
    assert seal.after == {"legacy_rows": 6, "legacy_head": seal.prev_hash, "key_id": "k1"}
    assert audit.seal_legacy_rows(AuditEntry, AuditHead) is None  # once
    write(2, legacy_trail)
    assert [e.key_id for e in rows()] == [""] * 6 + ["k1"] * 3
    assert run("audit_verify") == (0, "OK : chaîne d'audit intacte (9 lignes)\n")


def test_first_write_after_legacy_rows_seals_them(legacy_trail):
    write(1, legacy_trail)
    assert [e.action for e in rows()[5:]] == ["legacy.action", "audit.chain_keyed", "test.action"]
    assert run("audit_verify")[0] == 0


def test_changed_legacy_row_is_still_detected(legacy_trail):
    write(1, legacy_trail)
    target = AuditEntry.objects.get(seq=3)
    with triggers_out_of_the_way():
        AuditEntry.objects.filter(pk=target.pk).update(reason="modifié")
    code, output = run("audit_verify")
    assert code == 1 and f"ligne #3 (id {target.pk}) : contenu modifié" in output


def test_legacy_rows_never_sealed_by_a_key_are_refused(legacy_trail):
    code, output = run("audit_verify")
    assert code == 1
    first = rows()[0]
    assert f"ligne #1 (id {first.pk}) : 6 lignes scellées sans clé (SHA-256 simple) et aucune" in output


# --- test flushes and production settings --------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_test_flush_empties_the_trail_and_writing_starts_again(keys, make_user):
    user = make_user("flush")
    write(3, user)
    call_command("flush", interactive=False, verbosity=0)  # what transactional_db and live_server do after a test
    assert not AuditEntry.objects.exists() and not AuditHead.objects.exists()
    user = make_user("after")
    write(2, user)
    assert run("audit_verify") == (0, "OK : chaîne d'audit intacte (2 lignes)\n")


def manage_check(tmp_path, **extra):
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUDIT_")}
    env.update({"DEBUG": "0", "SECRET_KEY": "s" * 64, "ALLOWED_HOSTS": "drimm.example.fr",
                "VAR_DIR": str(tmp_path),
                # production services (never contacted by ``check``): DEBUG=0 refuses SQLite and a local cache
                "DATABASE_URL": "postgres://drimm@db.example.fr:5432/drimm",
                "REDIS_URL": "redis://redis.example.fr:6379/0",
                **extra})
    return subprocess.run([sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env,
                          timeout=120)


def test_production_refuses_to_start_without_or_with_a_weak_audit_key(tmp_path):
    result = manage_check(tmp_path)
    assert result.returncode != 0 and "AUDIT_HMAC_KEYS must be set when DEBUG=0" in result.stderr
    result = manage_check(tmp_path, AUDIT_HMAC_KEYS="k1:" + base64.b64encode(b"short").decode())
    assert result.returncode != 0 and "at least 32 bytes" in result.stderr
    good = "k1:" + base64.b64encode(KEY_1).decode() + ",k2:" + base64.b64encode(KEY_2).decode()
    result = manage_check(tmp_path, AUDIT_HMAC_KEYS=good)
    assert result.returncode != 0 and "AUDIT_HMAC_CURRENT_KEY_ID must name one of the keys" in result.stderr
    result = manage_check(tmp_path, AUDIT_HMAC_KEYS=good, AUDIT_HMAC_CURRENT_KEY_ID="k2")
    assert result.returncode == 0, result.stderr
