"""The applicant's write path: filing and correcting an operator's application to the trust space (DESIGN §5).

An iSC user files the application (legal entity, legal representative, card or proof of the power to represent,
signed contract of adhesion); it goes to ANS like any request (``requests`` and ``review``: assign, request
changes, approve, refuse, comments, timeline, e-mails, audit). Only approval creates the operator and the role
(``admission``). A SIREN that already has an operator, or an adhesion under review, never gets a second one: the
application becomes a « rattachement » to it, addressed to ANS and to its legal representatives.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from operators import onboarding
from operators.models import (
    ONBOARDING_KINDS,
    OPEN_STATUSES,
    AttachmentKind,
    ContractVersion,
    DrimboxRequest,
    Membership,
    Operator,
    RequestAttachment,
    RequestEventKind,
    RequestKind,
    Role,
)
from operators.request_data import APPLICATION_FIELDS, clean_data
from operators.services.requests import add_attachment, submit_request, update_request
from operators.services.timeline import add_event, audit_request
from operators.validators import all_field_errors
from trustspace import audit
from trustspace.errors import Conflict, ContractNotAccepted, InvalidData, NotAllowed
from trustspace.uploads import validate_pdf

if TYPE_CHECKING:
    from trustspace.models import User

T = TypeVar("T")


@contextmanager
def _files_removed_on_failure() -> Iterator[list[RequestAttachment]]:
    """The attachments written in the block; their files are deleted again if the block fails (the rows roll
    back with the transaction, the files in storage do not)."""
    written = []
    try:
        yield written
    except BaseException:
        for attachment in written:
            with suppress(OSError):
                attachment.file.storage.delete(attachment.file.name)
        raise


def _collect(errors: dict[str, list[str]], run: Callable[[], T]) -> T | None:
    """Run a check and keep its field errors, so the applicant sees every problem of the form at once."""
    try:
        return run()
    except InvalidData as exc:
        for field, messages in (exc.field_errors or {"__all__": [exc.message]}).items():
            errors.setdefault(field, []).extend(messages)
        return None


def apply_for_operator(*, acting_user: User | None, data: dict[str, Any], contract_document: UploadedFile | None = None,
                       power_document: UploadedFile | None = None, contract_accepted: bool = False) -> DrimboxRequest:
    """File and submit an application; returns the request (kind « adhésion » or « rattachement »)."""
    if acting_user is None or not acting_user.is_authenticated:
        raise NotAllowed("Connectez-vous avec iSC pour enregistrer un opérateur.")
    if acting_user.is_ans_admin:  # ANS reviews applications; it never acts in an operator's name
        raise NotAllowed("Un administrateur ANS ne dépose pas de demande d'adhésion : l'ANS instruit les demandes "
                         "des opérateurs.")
    current = ContractVersion.current()
    if current is None:
        raise ContractNotAccepted("Aucun contrat d'adhésion n'est encore publié par l'ANS : les adhésions ne sont pas "
                                  "encore ouvertes.")
    if not isinstance(data, dict):
        raise InvalidData("Les données de la demande doivent être un objet de champs.")
    values = {field: data.get(field, "") for field in APPLICATION_FIELDS if field != "contract_version"}
    values["contract_version"] = current.version
    errors = {}
    cleaned = _collect(errors, lambda: clean_data(RequestKind.ADHESION, values, operator=None, for_submit=True))
    if not contract_accepted:
        errors["contract_accepted"] = [f"Acceptez la version {current.version} du contrat d'adhésion."]
    _collect(errors, lambda: validate_pdf(contract_document, field="contract_document",
                                          label="Le contrat d'adhésion signé"))
    if power_document is not None:
        _collect(errors, lambda: validate_pdf(power_document, field="power_document",
                                              label="Le justificatif du pouvoir de représenter"))
    if cleaned is not None and power_document is None and "legal_rep_card" not in errors:
        _collect(errors, lambda: onboarding.card_for_role(Role.LEGAL_REPRESENTATIVE, cleaned["legal_rep_card"]))
        if "card_reference" in errors:
            errors["legal_rep_card"] = [onboarding.CARD_OR_PROOF_MESSAGE]
            errors.pop("card_reference")
    if errors:
        raise all_field_errors(errors)

    with _files_removed_on_failure() as written, transaction.atomic():
        siren = cleaned["siren"]
        onboarding.lock_applications_of_siren(siren)  # the order every decision on this SIREN takes its locks in
        existing = Operator.objects.filter(siren=siren).first()
        mine = DrimboxRequest.objects.filter(kind__in=ONBOARDING_KINDS, status__in=OPEN_STATUSES,
                                             created_by=acting_user, data__siren=siren).first()
        if mine is not None:
            raise Conflict(f"Vous avez déjà une demande en cours pour ce SIREN ({mine.reference}) : complétez-la ou "
                           "annulez-la.", code="application_pending", field_errors={"siren": [
                               f"Vous avez déjà une demande en cours pour ce SIREN ({mine.reference})."]})
        if existing is not None and Membership.objects.filter(
                operator=existing, user=acting_user, role=Role.LEGAL_REPRESENTATIVE, ended_at__isnull=True).exists():
            raise Conflict(f"Vous êtes déjà représentant légal de {existing.name}.", code="already_member")
        if existing is None and Operator.objects.filter(id_nat_struct=cleaned["id_nat_struct"]).exists():
            message = "Cet idNat_Struct est déjà celui d'un autre opérateur."
            raise InvalidData(message, field_errors={"id_nat_struct": [message]})
        attached = existing is not None or onboarding.pending_adhesions(siren).exists()
        req = DrimboxRequest(kind=RequestKind.ATTACHMENT if attached else RequestKind.ADHESION, operator=existing,
                             data=cleaned, created_by=acting_user)
        try:
            with transaction.atomic():
                req.save()
        except IntegrityError as exc:  # pragma: no cover - a lost race on the reference
            raise Conflict("La demande n'a pas pu être enregistrée : réessayez.") from exc
        add_event(req, kind=RequestEventKind.CREATED, actor=acting_user)
        audit_request(req, acting_user, "request.created", after=audit.snapshot(req, DrimboxRequest.AUDITED_FIELDS))
        written.append(add_attachment(req, acting_user=acting_user, kind=AttachmentKind.CONTRACT,
                                      uploaded_file=contract_document))
        if power_document is not None:
            written.append(add_attachment(req, acting_user=acting_user, kind=AttachmentKind.POWER,
                                          uploaded_file=power_document))
        req = submit_request(req, acting_user=acting_user)
    return req


def edit_application(req: DrimboxRequest, *, acting_user: User, data: dict[str, Any],
                     contract_document: UploadedFile | None = None,
                     power_document: UploadedFile | None = None) -> DrimboxRequest:
    """The applicant corrects a draft or an application sent back by ANS (data and new documents at once)."""
    onboarding.require_applicant(acting_user, req)
    errors = {}
    if contract_document is not None:
        _collect(errors, lambda: validate_pdf(contract_document, field="contract_document",
                                              label="Le contrat d'adhésion signé"))
    if power_document is not None:
        _collect(errors, lambda: validate_pdf(power_document, field="power_document",
                                              label="Le justificatif du pouvoir de représenter"))
    if errors:
        raise all_field_errors(errors)
    values = {field: data[field] for field in APPLICATION_FIELDS if field in data and field != "contract_version"}
    with _files_removed_on_failure() as written, transaction.atomic():
        req = update_request(req, acting_user=acting_user, data=values)
        if contract_document is not None:
            written.append(add_attachment(req, acting_user=acting_user, kind=AttachmentKind.CONTRACT,
                                          uploaded_file=contract_document))
        if power_document is not None:
            written.append(add_attachment(req, acting_user=acting_user, kind=AttachmentKind.POWER,
                                          uploaded_file=power_document))
    return req
