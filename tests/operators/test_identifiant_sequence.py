"""Identifiants come from a sequence: distinct under concurrent approvals, never reused after a rollback."""
import threading

import pytest
from django.db import connection, transaction

from operators import services
from operators.models import Drimbox, DrimboxRequest, RequestStatus
from tests.support.lifecycle import submitted_declaration

pytestmark = pytest.mark.django_db(transaction=True)


def _in_review(world, count):
    requests_ = []
    for _ in range(count):
        req = submitted_declaration(world.operator, world.legal)
        requests_.append(services.assign_request(req, acting_user=world.ans))
    return requests_


@pytest.mark.postgresql
def test_concurrent_approvals_get_distinct_identifiants(world):
    requests_ = _in_review(world, 6)
    barrier = threading.Barrier(len(requests_))
    errors = []

    def approve(pk):
        try:
            barrier.wait(timeout=10)
            services.approve_request(DrimboxRequest.objects.get(pk=pk), acting_user=world.ans)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(req.pk,)) for req in requests_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert DrimboxRequest.objects.filter(status=RequestStatus.APPROVED, kind="declaration").count() == 6
    identifiants = list(Drimbox.objects.values_list("identifiant", flat=True))
    assert len(set(identifiants)) == 6
    assert len({d.db_fqdn for d in Drimbox.objects.all()}) == 6


def test_an_identifiant_taken_by_a_rolled_back_approval_is_not_handed_out_again(world):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            lost = services.next_identifiant()
            raise RuntimeError("the approving transaction fails after taking its number")
    (req,) = _in_review(world, 1)
    services.approve_request(req, acting_user=world.ans)
    req.refresh_from_db()
    if connection.vendor == "postgresql":
        assert req.drimbox.identifiant > lost  # nextval is not rolled back
    else:
        # SQLite's counter row rolls back with the transaction: the number was never given to anyone.
        assert req.drimbox.identifiant >= lost
    assert not Drimbox.objects.filter(identifiant=lost).exclude(pk=req.drimbox.pk).exists()
