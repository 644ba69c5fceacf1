"""Is a DRIMbox funded? The financing rules of the AF IMG DB Va2 read on an order (DESIGN §5); no writes."""
from __future__ import annotations

from operators.models import FinancingOrder, FinancingOrderClient, RisWave


def client_problems(order: FinancingOrder, client: FinancingOrderClient) -> list[str]:
    """What a client of an order lacks to be funded (empty: nothing)."""
    problems = []
    if client.activity_2023 is not True and not client.has_takeover:
        problems.append(f"Le client {client.label} n'atteste pas d'activité de radiologie ou de médecine nucléaire "
                        "en 2023, et aucune reprise d'une structure active en 2023 n'est indiquée.")
    if client.has_takeover and not client.takeover_proof_sha256:
        problems.append(f"La preuve de la reprise de la structure SIREN {client.takeover_siren} par le client "
                        f"{client.label} n'est pas jointe.")
    if client.ris_wave == RisWave.NONE:
        problems.append(f"Le client {client.label} n'a pas de commande de RIS Vague 2 (ou Vague 1 + 2) : la DRIMbox "
                        "n'est pas financée pour lui.")
    if order.is_shared and not client.signature_sha256:
        problems.append(f"La page de signature du client {client.label} n'est pas jointe au bon de commande partagé.")
    return problems


def _state_problems(order: FinancingOrder) -> list[str]:
    """What the order itself lacks, whichever client it funds: still active, signed order attached."""
    problems = []
    if not order.is_active:
        problems.append(f"Le bon de commande {order.reference} est clos.")
    if not order.signed_sha256:
        problems.append(f"Le bon de commande {order.reference} signé (PDF) n'est pas joint.")
    return problems


def order_problems(order: FinancingOrder) -> list[str]:
    """What an order lacks to fund a DRIMbox, whatever the declaration (empty: complete)."""
    problems = _state_problems(order)
    for client in order.clients.all():
        problems.extend(client_problems(order, client))
    return problems


def declaration_problems(order: FinancingOrder | None, *, siren: str, finess: str, pacs: str) -> list[str]:
    """Why the DRIMbox a declaration describes is not funded by ``order`` (empty: funded), DESIGN §5."""
    if order is None:
        return ["Aucun bon de commande n'est associé à la DRIMbox : elle n'est pas financée."]
    problems = _state_problems(order)
    clients = list(order.clients.all())
    client = next((item for item in clients if item.siren == siren), None)
    if client is None:
        listed = ", ".join(item.siren for item in clients)
        problems.append(f"Le bon de commande {order.reference} ne compte pas le client SIREN {siren or '—'} "
                        f"(clients : {listed}).")
    else:
        problems.extend(client_problems(order, client))
        client_finess = [site.finess_geographique for site in client.sites.all()]
        if finess and finess not in client_finess:
            problems.append(f"Le FINESS géographique {finess} ne figure pas parmi ceux du client {client.label} "
                            f"dans le bon de commande {order.reference}.")
    if pacs not in order.pacs_list:
        problems.append(f"Le PACS déclaré ({pacs or '—'}) ne figure pas dans le bon de commande {order.reference} "
                        f"({', '.join(order.pacs_list)}).")
    return problems
