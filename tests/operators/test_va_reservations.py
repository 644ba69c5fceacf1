"""The VA document « avec réserves » (issue 14, item 4): deposited with reservations while the client's RIS is
not yet in Vague 2, validated as such, the RIS update signalled, two months to lift the reservations (reminders,
overdue list), the lifting document deposited and validated. The clock is injected: ``timezone.now`` moves
only when a test says so.
"""
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib.messages import get_messages
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from operators import services
from operators.models import VaDocument, VaStatus
from tests.conftest import pdf_upload
from tests.support import form_html
from tests.support.api import API, api, error_of
from tests.support.lifecycle import active_drimbox
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    """Replaces ``django.utils.timezone.now`` (and so ``localdate``): starts now, moves forward on demand."""

    def __init__(self, real_now):
        self.current = real_now()

    def __call__(self):
        return self.current

    def advance(self, **delta):
        self.current += timedelta(**delta)

    def set(self, moment):
        assert moment >= self.current, "the clock only moves forward (the audit chain is ordered)"
        self.current = moment


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(timezone.now)
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def deadlines(settings):
    settings.VA_DEADLINE_DAYS = 30
    settings.VA_REMINDER_DAYS = [14, 7, 1]
    settings.VA_RESERVATIONS_MONTHS = 2
    settings.VA_RESERVATIONS_REMINDER_DAYS = [15, 3]


def _fresh(va):
    return VaDocument.objects.get(pk=va.pk)


def _subjects(*, to):
    return [m.subject for m in mail.outbox if to in m.to]


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_va_with_reservations_through_both_deadlines(world, deadlines, clock):
    va = VaDocument.objects.get(drimbox=active_drimbox(world.operator, world.legal, world.ans))
    assert va.status == VaStatus.DUE

    # First deadline (CGI, 30 days): the usual reminder, then the VA deposited « avec réserves » in time.
    clock.advance(days=20)
    assert services.send_va_reminders() == 1
    services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va-reserves.pdf"),
                       with_reservations=True)
    va = _fresh(va)
    assert va.status == VaStatus.SUBMITTED and va.with_reservations
    assert any("Document VA déposé avec réserves" in s for s in _subjects(to="ans@example.fr"))
    deposited_on = timezone.localdate()

    # The RIS date is recorded once ANS validated the VA with reservations, not before.
    with pytest.raises(Conflict, match="validé avec réserves"):
        services.record_ris_update(va, acting_user=world.technical, signalled_on=deposited_on)
    services.validate_va(va, acting_user=world.ans)
    va = _fresh(va)
    assert va.status == VaStatus.VALIDATED_RESERVATIONS and va.get_status_display() == "Validé avec réserves"
    assert any("Document VA validé avec réserves" in s for s in _subjects(to="technical@example.fr"))
    # The lifting path is not the VA path: ANS cannot « validate the VA » a second time.
    with pytest.raises(Conflict):
        services.validate_va(va, acting_user=world.ans)

    # The 30-day deadline passes: the VA is not overdue (it was deposited), no reservations deadline yet.
    clock.advance(days=15)
    va = _fresh(va)
    assert not va.is_overdue and not va.reservations_overdue and va.reservations_due_at is None
    assert services.send_va_reminders() == 0
    assert services.send_va_reservations_reminders() == 0

    # Bad dates: French errors, nothing recorded.
    with pytest.raises(InvalidData, match="ne peut pas être dans le futur") as excinfo:
        services.record_ris_update(va, acting_user=world.technical,
                                   signalled_on=timezone.localdate() + timedelta(days=1))
    assert "ris_signalled_on" in excinfo.value.field_errors
    with pytest.raises(InvalidData, match="ne peut pas précéder le dépôt du document VA"):
        services.record_ris_update(va, acting_user=world.technical, signalled_on=deposited_on - timedelta(days=1))
    with pytest.raises(InvalidData, match="Indiquez la date"):
        services.record_ris_update(va, acting_user=world.technical, signalled_on=None)
    with pytest.raises(NotAllowed):
        services.record_ris_update(va, acting_user=world.other, signalled_on=deposited_on)
    assert _fresh(va).ris_signalled_on is None and _fresh(va).reservations_due_at is None

    # The client signalled its RIS in Vague 2 two days ago: two calendar months from that day.
    signalled_on = timezone.localdate() - timedelta(days=2)
    services.record_ris_update(va, acting_user=world.legal, signalled_on=signalled_on)
    va = _fresh(va)
    deadline_day = signalled_on + relativedelta(months=2)
    assert va.ris_signalled_on == signalled_on and va.ris_signalled_by == world.legal
    assert timezone.localtime(va.reservations_due_at).date() == deadline_day
    assert not va.reservations_overdue

    # Second deadline: a reminder at 15 days, another at 3 days, each once.
    mail.outbox.clear()
    clock.set(va.reservations_due_at - timedelta(days=20))
    assert services.send_va_reservations_reminders() == 0
    clock.set(va.reservations_due_at - timedelta(days=10))
    assert services.send_va_reservations_reminders() == 1
    assert services.send_va_reservations_reminders() == 0
    clock.set(va.reservations_due_at - timedelta(days=2))
    assert services.send_va_reservations_reminders() == 1
    reminders = [s for s in _subjects(to="technical@example.fr") if "réserves du VA à lever" in s]
    assert len(reminders) == 2 and f"{deadline_day:%d/%m/%Y}" in reminders[0]
    assert _fresh(va).reservations_reminders_sent == [15, 3]

    # Overdue: flagged, one overdue e-mail, listed by ANS and shown on the DRIMbox page.
    clock.set(va.reservations_due_at + timedelta(days=1))
    va = _fresh(va)
    assert va.reservations_overdue and not va.is_overdue
    assert services.send_va_reservations_reminders() == 1
    assert services.send_va_reservations_reminders() == 0
    assert any("Réserves du VA non levées" in s for s in _subjects(to="technical@example.fr"))
    assert _fresh(va).reservations_reminders_sent == [15, 3, 0]

    # The lifting document: PDF only, by the operator's members only.
    with pytest.raises(InvalidData, match="PDF"):
        services.upload_va_lifting(va, acting_user=world.technical,
                                   uploaded_file=pdf_upload("levee.pdf", b"pas un pdf"))
    with pytest.raises(NotAllowed):
        services.upload_va_lifting(va, acting_user=world.other, uploaded_file=pdf_upload("levee.pdf"))
    assert _fresh(va).status == VaStatus.VALIDATED_RESERVATIONS
    services.upload_va_lifting(va, acting_user=world.technical, uploaded_file=pdf_upload("levee.pdf"))
    va = _fresh(va)
    assert va.status == VaStatus.LIFTING_SUBMITTED and not va.reservations_overdue
    assert va.lifting_original_name == "levee.pdf" and len(va.lifting_sha256) == 64
    assert any("Levée des réserves VA déposée" in s for s in _subjects(to="ans@example.fr"))
    with pytest.raises(Conflict):  # the RIS date is fixed while ANS reads the lifting document
        services.record_ris_update(va, acting_user=world.technical, signalled_on=signalled_on)
    with pytest.raises(Conflict):  # the VA path does not validate a lifting document
        services.validate_va(va, acting_user=world.ans)

    # ANS refuses it (a reason is required): back to waiting for a new one, overdue again.
    with pytest.raises(NotAllowed):
        services.refuse_va_lifting(va, acting_user=world.legal, reason="Non signé")
    with pytest.raises(InvalidData, match="motif du refus est obligatoire"):
        services.refuse_va_lifting(va, acting_user=world.ans, reason=" ")
    services.refuse_va_lifting(va, acting_user=world.ans, reason="Non signé par le client")
    va = _fresh(va)
    assert va.status == VaStatus.VALIDATED_RESERVATIONS and va.lifting_refusal_reason == "Non signé par le client"
    assert va.reservations_overdue
    assert any("Levée des réserves VA refusée" in s for s in _subjects(to="technical@example.fr"))

    # A new lifting document, validated: the VA is validated without reservation; nothing is overdue.
    services.upload_va_lifting(va, acting_user=world.legal, uploaded_file=pdf_upload("levee-signee.pdf"))
    assert _fresh(va).lifting_refusal_reason == ""
    services.validate_va_lifting(va, acting_user=world.ans)
    va = _fresh(va)
    assert va.status == VaStatus.VALIDATED and not va.reservations_overdue and not va.is_overdue
    assert any("Réserves du VA levées" in s for s in _subjects(to="technical@example.fr"))
    assert services.send_va_reservations_reminders() == 0
    with pytest.raises(Conflict):
        services.upload_va_lifting(va, acting_user=world.technical, uploaded_file=pdf_upload("encore.pdf"))

    actions = list(AuditEntry.objects.filter(object_type="operators.vadocument", object_id=str(va.pk))
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["va.due", "va.reminded", "va.uploaded", "va.validated", "va.ris_signalled",
                       "va.reservations_reminded", "va.reservations_reminded", "va.reservations_reminded",
                       "va.lifting_uploaded", "va.lifting_refused", "va.lifting_uploaded", "va.reservations_lifted"]


def test_the_normal_30_day_va_path_is_unchanged(world, deadlines, clock):
    va = VaDocument.objects.get(drimbox=active_drimbox(world.operator, world.legal, world.ans))
    clock.advance(days=31)
    va = _fresh(va)
    assert va.is_overdue and not va.reservations_overdue
    services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va.pdf"))
    services.validate_va(va, acting_user=world.ans)
    va = _fresh(va)
    assert va.status == VaStatus.VALIDATED and not va.with_reservations and not va.shows_reservations
    # No reservations: no RIS date, no lifting document.
    with pytest.raises(Conflict):
        services.record_ris_update(va, acting_user=world.technical, signalled_on=timezone.localdate())
    with pytest.raises(Conflict):
        services.upload_va_lifting(va, acting_user=world.technical, uploaded_file=pdf_upload("levee.pdf"))
    assert services.send_va_reservations_reminders() == 0


def test_a_withdrawn_drimbox_closes_open_reservations(world, deadlines, clock):
    from operators.services.documents import close_open_va_documents

    va = VaDocument.objects.get(drimbox=active_drimbox(world.operator, world.legal, world.ans))
    services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va.pdf"), with_reservations=True)
    services.validate_va(va, acting_user=world.ans)
    with transaction.atomic():  # as in the approving transaction of a withdrawal
        close_open_va_documents(va.drimbox, actor="test", reason="retrait")
    assert _fresh(va).status == VaStatus.CLOSED


def test_both_paths_on_the_pages(client, world, deadlines, clock):
    va = VaDocument.objects.get(drimbox=active_drimbox(world.operator, world.legal, world.ans))
    drimbox_url = reverse("drimbox_detail", args=[va.drimbox_id])

    client.force_login(world.technical)
    page = client.get(drimbox_url).content.decode()
    assert "VA signé avec réserves (RIS du client pas encore en Vague 2)" in page
    response = client.post(reverse("va_upload", args=[va.pk]),
                           {"file": pdf_upload("va.pdf"), "with_reservations": "on"})
    assert response.status_code == 302 and _fresh(va).with_reservations

    client.force_login(world.ans)
    page = client.get(reverse("ans_va")).content.decode()
    assert "Avec réserves" in page and "Valider avec réserves" in page
    client.post(reverse("va_validate", args=[va.pk]))
    assert _fresh(va).status == VaStatus.VALIDATED_RESERVATIONS
    page = client.get(reverse("ans_va")).content.decode()
    assert "En attente de la mise à jour du RIS" in page

    # Another operator's user does not see the VA; a date in the future is refused in French.
    client.force_login(world.other)
    response = client.post(reverse("va_ris_update", args=[va.pk]), {"signalled_on": timezone.localdate()})
    assert response.status_code == 404
    client.force_login(world.technical)
    page = client.get(drimbox_url).content.decode()
    assert "Validé avec réserves" in page and "Enregistrer la date" in page
    tomorrow = timezone.localdate() + timedelta(days=1)
    # Refused: the page again, the error next to the date (and in the summary), nothing recorded.
    response = client.post(reverse("va_ris_update", args=[va.pk]), {"signalled_on": tomorrow.isoformat()})
    assert response.status_code == 200
    assert response.context["failed_form"].errors["signalled_on"] == [
        "La date de mise à jour du RIS ne peut pas être dans le futur."]
    form_html.assert_form_errors_shown(response, response.context["failed_form"])
    response = client.post(reverse("va_ris_update", args=[va.pk]), {"signalled_on": "32/13/2026"})
    assert response.context["failed_form"].errors["signalled_on"] == ["Indiquez une date valide (jj/mm/aaaa)."]
    assert _fresh(va).ris_signalled_on is None
    response = client.post(reverse("va_ris_update", args=[va.pk]), {"signalled_on": timezone.localdate()})
    va = _fresh(va)
    assert _messages(response)[-1] == (f"Date de mise à jour du RIS enregistrée : les réserves sont à lever avant "
                                       f"le {timezone.localtime(va.reservations_due_at):%d/%m/%Y}.")

    # Two months later: overdue on both pages.
    clock.set(va.reservations_due_at + timedelta(hours=1))
    client.force_login(world.technical)  # the session did not survive two months
    assert "Réserves en retard" in client.get(drimbox_url).content.decode()
    client.force_login(world.ans)
    response = client.get(reverse("ans_va"))
    assert list(response.context["reservations_overdue"]) == [va]

    client.force_login(world.technical)
    response = client.post(reverse("va_lifting_upload", args=[va.pk]), {"file": pdf_upload("levee.pdf", b"texte")})
    assert _fresh(va).status == VaStatus.VALIDATED_RESERVATIONS
    assert "PDF" in response.context["failed_form"].errors["file"][0]
    form_html.assert_form_errors_shown(response, response.context["failed_form"])
    client.post(reverse("va_lifting_upload", args=[va.pk]), {"file": pdf_upload("levee.pdf")})
    assert _fresh(va).status == VaStatus.LIFTING_SUBMITTED
    assert "déposée, à valider par l'ANS" in client.get(drimbox_url).content.decode()
    assert client.get(reverse("va_lifting_download", args=[va.pk])).status_code == 200

    client.force_login(world.ans)
    response = client.get(reverse("ans_va"))
    assert list(response.context["liftings_to_review"]) == [va] and list(response.context["reservations_overdue"]) == []
    client.post(reverse("va_lifting_validate", args=[va.pk]))
    assert _fresh(va).status == VaStatus.VALIDATED
    assert "Réserves levées" in client.get(drimbox_url).content.decode()


def test_the_api_exposes_reservations(world, deadlines, clock):
    va = VaDocument.objects.get(drimbox=active_drimbox(world.operator, world.legal, world.ans))
    technical, ans = api(world.technical), api(world.ans)
    response = technical.post(f"{API}/va/{va.pk}/document/", {"file": pdf_upload("va.pdf"),
                                                                "with_reservations": "true"}, format="multipart")
    assert response.status_code == 200 and response.json()["with_reservations"] is True
    body = ans.post(f"{API}/va/{va.pk}/validate/").json()
    assert body["status"] == "valide_reserves" and body["reservations_due_at"] is None

    error_of(api(world.other).post(f"{API}/va/{va.pk}/ris-update/", {"signalled_on": "2026-01-01"}, format="json"),
             404)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    error = error_of(technical.post(f"{API}/va/{va.pk}/ris-update/", {"signalled_on": tomorrow}, format="json"), 400)
    assert "futur" in error["message"]
    error = error_of(technical.post(f"{API}/va/{va.pk}/ris-update/", {"signalled_on": "hier"}, format="json"), 400)
    assert "signalled_on" in error["fields"]
    today = timezone.localdate()
    body = ans.post(f"{API}/va/{va.pk}/ris-update/", {"signalled_on": today.isoformat()}, format="json").json()
    assert body["ris_signalled_on"] == today.isoformat() and body["reservations_due_at"]
    assert body["reservations_overdue"] is False

    body = technical.post(f"{API}/va/{va.pk}/lifting/document/", {"file": pdf_upload("levee.pdf")},
                          format="multipart").json()
    assert body["status"] == "levee_deposee" and body["lifting_download_url"].endswith(
        reverse("va_lifting_download", args=[va.pk]))
    error_of(technical.post(f"{API}/va/{va.pk}/lifting/validate/"), 403)
    body = ans.post(f"{API}/va/{va.pk}/lifting/refuse/", {"reason": "Illisible"}, format="json").json()
    assert body["status"] == "valide_reserves" and body["lifting_refusal_reason"] == "Illisible"
    technical.post(f"{API}/va/{va.pk}/lifting/document/", {"file": pdf_upload("levee2.pdf")}, format="multipart")
    assert ans.post(f"{API}/va/{va.pk}/lifting/validate/").json()["status"] == "valide"
