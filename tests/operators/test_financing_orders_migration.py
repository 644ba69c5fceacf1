"""Orders recorded before the AF rules (one client SIREN and one PACS per order) are migrated without loss."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("operators", "0013_va_reservations")]
AFTER = [("operators", "0014_financing_orders_as_the_af_defines_them")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_each_old_order_becomes_an_order_with_its_client_pacs_and_finess():
    old = _migrate(BEFORE)
    try:
        User = old.get_model("trustspace", "User")
        Operator = old.get_model("operators", "Operator")
        Order = old.get_model("operators", "FinancingOrder")
        Site = old.get_model("operators", "FinancingOrderSite")
        Structure = old.get_model("operators", "HealthStructure")
        user = User.objects.create(username="legal-migration")
        operator = Operator.objects.create(name="Opérateur migré", siren="732829320", siret="73282932000074")
        Structure.objects.create(name="Centre d'imagerie du Port", siren="552100554", finess_geographique="750000010")
        with_structure = Order.objects.create(operator=operator, reference="BC-OLD-1", client_siren="552100554",
                                              pacs_identifier="PACS-OLD-1", created_by=user)
        Site.objects.create(order=with_structure, finess_geographique="750000010")
        Site.objects.create(order=with_structure, finess_geographique="750000028")
        Order.objects.create(operator=operator, reference="BC-OLD-2", client_siren="443061841",
                             pacs_identifier="PACS-OLD-2", created_by=user)

        new = _migrate(AFTER)
        Order = new.get_model("operators", "FinancingOrder")
        first, second = Order.objects.order_by("reference")
        (client,) = first.clients.all()
        assert (client.siren, client.name, client.activity_2023, client.ris_wave) == (
            "552100554", "Centre d'imagerie du Port", None, "")
        assert [p.identifier for p in first.pacs.all()] == ["PACS-OLD-1"]
        assert sorted((s.finess_geographique, s.client_id, s.active) for s in first.sites.all()) == [
            ("750000010", client.pk, True), ("750000028", client.pk, True)]
        assert first.status == "actif" and first.created_by_id == user.pk
        assert [(c.siren, c.name) for c in second.clients.all()] == [("443061841", "")]
        assert [p.identifier for p in second.pacs.all()] == ["PACS-OLD-2"]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
