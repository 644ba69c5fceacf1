"""The audit trail: written by every service in its transaction, append-only, hash-chained, verifiable."""
import html
import io
import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from operators import services
from operators.models import Operator
from trustspace import audit
from trustspace.errors import DomainError
from trustspace.models import AuditEntry


@contextmanager
def triggers_disabled():
    """What an attacker with direct database access would do before tampering."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # superuser: skips user triggers
        else:
            cursor.execute("DROP TRIGGER trustspace_audit_no_update")
    yield


def run_verify():
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_services_write_a_chained_entry_with_actor_and_change(world):
    services.update_operator(world.operator, acting_user=world.legal, data={"city": "Lyon"})
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry.action == "operator.updated"
    assert entry.actor == world.legal
    assert entry.before == {"city": "Paris"} and entry.after == {"city": "Lyon"}
    assert entry.operator_id == world.operator.pk
    previous = AuditEntry.objects.get(seq=entry.seq - 1)
    assert entry.prev_hash == previous.hash
    assert entry.hash == audit.compute_hash(entry)


def test_failed_service_writes_no_audit_entry(world):
    before = AuditEntry.objects.count()
    with pytest.raises(DomainError):
        services.update_operator(world.operator, acting_user=world.legal, data={"siret": "12345678900011"})
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_is_refused(world):
    with pytest.raises(RuntimeError):
        audit.record(actor=None, action="x", obj=world.operator)


def test_intact_chain_verifies(world):
    code, output = run_verify()
    assert code == 0
    assert f"({AuditEntry.objects.count()} lignes)" in output


def test_database_refuses_updates_of_audit_rows(world):
    entry = AuditEntry.objects.first()
    with pytest.raises((DatabaseError, IntegrityError)):
        with transaction.atomic():
            AuditEntry.objects.filter(pk=entry.pk).update(reason="effacé")


@pytest.mark.postgresql  # DELETE is refused by a PostgreSQL trigger
def test_postgresql_refuses_deletes_of_audit_rows(world):
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEntry.objects.filter(seq=3).delete()


def test_altered_row_is_named(world):
    target = AuditEntry.objects.get(seq=5)
    with triggers_disabled():
        AuditEntry.objects.filter(pk=target.pk).update(after={"forged": True})
    code, output = run_verify()
    assert code == 1
    assert f"ligne #5 (id {target.pk}) : contenu modifié" in output


def test_deleted_middle_row_is_named(world):
    follower = AuditEntry.objects.get(seq=8)
    with triggers_disabled():
        AuditEntry.objects.filter(seq=7).delete()
    code, output = run_verify()
    assert code == 1
    assert f"ligne #8 (id {follower.pk})" in output and "#7" in output


def test_deleted_newest_row_is_detected(world):
    last = AuditEntry.objects.order_by("-seq").first()
    with triggers_disabled():
        AuditEntry.objects.filter(pk=last.pk).delete()
    code, output = run_verify()
    assert code == 1
    assert f"ligne #{last.seq}" in output


def test_rehashed_row_breaks_the_next_link(world):
    """Rewriting a row and its own hash still breaks the chain at the following row."""
    target = AuditEntry.objects.get(seq=4)
    with triggers_disabled():
        target.reason = "réécrit"
        new_hash = audit.compute_hash(target)
        AuditEntry.objects.filter(pk=target.pk).update(reason="réécrit", hash=new_hash)
    code, output = run_verify()
    assert code == 1
    assert "ligne #5" in output


def test_history_is_shown_on_the_operator(world, client):
    services.update_operator(world.operator, acting_user=world.legal, data={"city": "Lyon"})
    client.force_login(world.technical)
    body = html.unescape(client.get("/espace/historique/").content.decode())
    assert "Coordonnées de l'opérateur modifiées" in body and "Lyon" in body and "Rôle attribué" in body
    client.force_login(world.ans)
    body = html.unescape(client.get(f"/ans/operateurs/{world.operator.pk}/").content.decode())
    assert "Historique" in body and "Coordonnées de l'opérateur modifiées" in body


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_linear_chain(world):
    operator_id = world.operator.pk
    errors = []

    def worker(city):
        try:
            for i in range(5):
                services.update_operator(Operator.objects.get(pk=operator_id), acting_user=world.legal,
                                         data={"city": f"{city}-{i}"})
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("Lyon", "Lille", "Nantes")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert run_verify()[0] == 0
    assert AuditEntry.objects.filter(action="operator.updated").count() == 15
