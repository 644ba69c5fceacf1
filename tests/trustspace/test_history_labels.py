"""History people can read (issue 16, item 3): a French label for every audit action the code writes, French
field names and formatted values for what the rows record."""
from datetime import UTC, datetime

import pytest

from operators import services
from operators.models import DrimboxRequest, Membership, Role
from tests.support.audit_actions import scan_actions
from trustspace import audit_labels, history
from trustspace.models import AuditEntry


@pytest.fixture(scope="module")
def scan():
    return scan_actions()


def test_every_action_written_by_the_code_has_a_french_label(scan):
    assert scan.unresolved == [], "action d'audit que l'analyse du code ne sait pas résoudre"
    missing = {action: sorted(where) for action, where in scan.actions.items()
               if action not in audit_labels.registry().actions}
    assert missing == {}, "actions d'audit sans libellé français (ajoutez-les au module audit_labels de l'app)"


def test_the_scan_follows_every_kind_of_indirection(scan):
    """Literals, f-strings, conditionals, local variables, module constants and helper parameters."""
    found = set(scan.actions)
    assert len(found) > 90
    assert {
        "request.approved",  # audit_request(req, user, "request.approved"): parameter of a helper
        "certificate.db.stored", "certificate.vi.stored",  # f"certificate.{kind}.stored", kind a parameter
        "weather.location_activated", "weather.location_deactivated",  # a if active else b
        "weather.maintenance_cancelled", "weather.maintenance_ended_early",  # a local variable
        "request.requalified", "request.addressed",
        "whitelist.github_issue_imported", "whitelist.github_issue_quarantined",  # keyword of _insert_once
        "audit.key_rotated", "audit.chain_keyed",  # module constants of trustspace.audit
    } <= found
    assert not {action for action in found if "." not in action}, "une valeur qui n'est pas une action"


def test_labels_are_words_not_codes():
    for code, label in audit_labels.registry().actions.items():
        assert label and label != code and "_" not in label and not label.startswith(code.split(".")[0] + "."), code
    for key, label in audit_labels.registry().fields.items():
        assert label and "_" not in label, key


def test_values_are_formatted_for_people(settings):
    settings.TIME_ZONE = "Europe/Paris"
    request_field = DrimboxRequest._meta.get_field("status")
    assert history.format_value("en_instruction", request_field) == "En instruction"
    assert history.format_value(True) == "Oui"
    assert history.format_value(False) == "Non"
    assert history.format_value(None) == "—"
    assert history.format_value(["a.fr", "b.fr"]) == "a.fr, b.fr"
    # winter (UTC+1) and summer (UTC+2) in Europe/Paris
    assert history.format_value("2026-12-03T09:54:00+00:00") == "03/12/2026 à 10:54"
    assert history.format_value("2026-07-01T09:54:00.123456Z") == "01/07/2026 à 11:54"
    assert history.format_value("2026-07-01") == "01/07/2026"
    assert history.format_value({"postal_code": "21000", "city": "Dijon"}) == "Code postal : 21000 ; Commune : Dijon"
    assert history.format_datetime(datetime(2026, 12, 3, 23, 30, tzinfo=UTC)) == "04/12/2026 à 00:30"


def test_a_change_reads_field_by_field_with_names_and_references(world):
    services.update_operator(world.operator, acting_user=world.legal, data={"city": "Lyon", "postal_code": "69003"})
    entry = AuditEntry.objects.filter(action="operator.updated").latest("seq")
    [row] = history.describe([entry])
    assert row.action_label == "Coordonnées de l'opérateur modifiées"
    assert row.object_label == "Opérateur"
    changes = {change.label: (change.before, change.after) for change in row.changes}
    assert changes["Commune"][1] == "Lyon"
    assert changes["Code postal"][1] == "69003"
    assert all(change.known for change in row.changes)

    membership = Membership.objects.get(operator=world.operator, role=Role.TECHNICAL_ADMIN, ended_at__isnull=True)
    created = AuditEntry.objects.filter(action="membership.created", object_id=str(membership.pk)).latest("seq")
    [row] = history.describe([created])
    changes = {change.label: change.after for change in row.changes}
    assert changes["Opérateur"] == world.operator.name  # the id, resolved to the operator's name
    assert changes["Personne"] == world.technical.display_name
    assert changes["Rôle"] == "Administrateur technique"
    assert "Fin du rôle" not in changes  # empty on both sides: nothing to read


def _keys_of(value, top_model):
    """(key, known) of every key of a recorded value, nested ones too."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, audit_labels.field_label(top_model, key)[1]
            yield from _keys_of(item, None)
    elif isinstance(value, list):
        for item in value:
            yield from _keys_of(item, None)


def test_the_demo_trust_space_reads_in_french(demo_trust_space):
    """Everything the demo records (operators, requests, DRIMboxes, certificates, whitelist, weather) has
    French labels down to nested keys, and no Python dict reaches a change."""
    entries = list(AuditEntry.objects.order_by("seq"))
    assert len(entries) > 100
    assert len({entry.object_type for entry in entries}) >= 8
    unknown_actions = {entry.action for entry in entries if entry.action not in audit_labels.registry().actions}
    assert unknown_actions == set()
    unknown = set()
    for entry in entries:
        model = audit_labels.model_of(entry.object_type)
        for data in (entry.before, entry.after):
            unknown |= {(entry.action, key) for key, known in _keys_of(data, model) if not known}
    assert unknown == set()
    for row in history.describe(entries):
        for change in row.changes:
            for value in (change.before, change.after):
                assert value is None or ("{'" not in value and "['" not in value and "True" != value), row.entry


def test_a_key_an_action_records_in_its_own_sense(world):
    """The kind of an attachment is recorded under ``kind`` on the request, whose own ``kind`` is the request's."""
    from tests.support import lifecycle as lc

    req = lc.submitted_declaration(world.operator, world.legal)
    entry = AuditEntry.objects.filter(action="request.attachment_added", object_id=str(req.pk)).latest("seq")
    [row] = history.describe([entry])
    changes = {change.label: change.after for change in row.changes}
    assert changes["Pièce"] == "Conditions Générales d'Intégration signées"
    assert changes["Fichier"].endswith(".pdf")
    assert "Type" not in changes and "Raison sociale" not in changes
    assert history.shortened(changes["Empreinte SHA-256"]).endswith("…")
