"""The operator's next steps in the ANS journey, shown on « Mon Espace de Confiance DRIM-M »."""
from dataclasses import dataclass

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from .models import DrimboxStatus, Membership, Role
from .services.contracts import contract_status


@dataclass
class Step:
    title: str
    done: bool
    detail: str
    url: str = ""
    action: str = ""


def journey(operator):
    current, acceptance = contract_status(operator)
    counts = Membership.objects.filter(operator=operator, ended_at__isnull=True).aggregate(
        legal=Count("pk", filter=Q(role=Role.LEGAL_REPRESENTATIVE)),
        technical=Count("pk", filter=Q(role=Role.TECHNICAL_ADMIN)),
    )
    boxes = {row["status"]: row["n"] for row in operator.drimboxes.values("status").annotate(n=Count("pk"))}
    in_space = boxes.get(DrimboxStatus.ACTIVE, 0)
    declared = sum(boxes.values()) - boxes.get(DrimboxStatus.WITHDRAWN, 0)

    steps = [
        Step(
            "Contrat d'adhésion",
            acceptance is not None,
            f"Version {current.version} acceptée le {timezone.localdate(acceptance.accepted_at):%d/%m/%Y}."
            if acceptance
            else (f"La version {current.version} est à accepter avant toute démarche." if current
                  else "L'ANS n'a pas encore publié de contrat."),
            reverse("contract"), "Lire et accepter le contrat",
        ),
        Step(
            "Représentant légal",
            counts["legal"] > 0,
            f"{counts['legal']} représentant(s) légal(aux) désigné(s).",
            reverse("people"), "Gérer les personnes",
        ),
        Step(
            "Administrateurs techniques",
            counts["technical"] > 0,
            f"{counts['technical']} administrateur(s) technique(s) désigné(s)." if counts["technical"]
            else "Désignez au moins un administrateur technique (porteur de carte CPA) : lui seul gère les "
                 "certificats.",
            reverse("person_invite"), "Désigner un administrateur technique",
        ),
        Step(
            "Déclarations de DRIMbox",
            declared > 0,
            f"{declared} DRIMbox déclarée(s), dont {in_space} active(s) dans l'Espace de Confiance." if declared
            else "Aucune DRIMbox déclarée pour le moment.",
            reverse("request_create", args=["declaration"]), "Déclarer une DRIMbox",
        ),
        Step(
            "Certificats",
            in_space > 0 and in_space == declared,
            "Chaque DRIMbox intégrée doit porter un certificat IGC-Santé (db) et un certificat du marché (vi)."
            if declared else "Les certificats se déposent une fois la DRIMbox déclarée.",
            reverse("certificate_dashboard"), "Voir mes certificats",
        ),
    ]
    next_step = next((step for step in steps if not step.done), None)
    return steps, next_step
