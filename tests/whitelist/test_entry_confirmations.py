"""« DRIMbox intégrée » / « retirée »: sent by the publication that first contains or first drops a DRIMbox, once,
to the operator's people; nothing when its integration is approved, nor when a later version keeps it."""
from operators import services as operator_services
from operators.models import RequestKind
from trustspace.models import OutboxKind, OutboxMessage
from whitelist import services

ENTERED = "DRIMbox intégrée à l'Espace de Confiance"
LEFT = "DRIMbox retirée de l'Espace de Confiance"


def mails(subject_part):
    return [message.payload for message in OutboxMessage.objects.filter(kind=OutboxKind.EMAIL).order_by("pk")
            if subject_part in message.payload["subject"]]


def publish(world, ans2):
    return services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)


def test_the_first_publication_that_contains_a_drimbox_confirms_it_once(world, ans2, box, signer_p12):
    assert mails(ENTERED) == []  # its integration is approved, but no DRIMbox knows it yet
    version = publish(world, ans2)
    [entered] = mails(ENTERED)
    assert entered["subject"] == f"[Espace de Confiance DRIM-M] {ENTERED} : {box.identifiant}"
    assert set(entered["to"]) == {world.legal.email, world.technical.email, world.mandataire.email}
    assert f"version {version.number} du" in entered["body"] and f"/meteo/{box.identifiant}/" in entered["body"]

    publish(world, ans2)  # a later version that still contains it
    assert len(mails(ENTERED)) == 1 and mails(LEFT) == []


def test_the_publication_that_drops_a_withdrawn_drimbox_says_so(world, ans2, box, signer_p12):
    publish(world, ans2)
    req = operator_services.create_request(acting_user=world.legal, operator=world.operator,
                                           kind=RequestKind.WITHDRAWAL, drimbox=box, data={"reason": "Fin"})
    req = operator_services.submit_request(req, acting_user=world.legal)
    req = operator_services.assign_request(req, acting_user=world.ans)
    operator_services.approve_request(req, acting_user=world.ans)
    assert mails(LEFT) == []  # approved, still in the published list until the next version
    version = publish(world, ans2)
    [left] = mails(LEFT)
    assert left["subject"] == f"[Espace de Confiance DRIM-M] {LEFT} : {box.identifiant}"
    assert f"version {version.number} du" in left["body"] and "/espace/drimbox/" in left["body"]
    assert world.legal.email in left["to"] and world.other.email not in left["to"]
    assert len(mails(ENTERED)) == 1
