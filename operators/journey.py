"""The operator's next steps in the ANS journey, shown on « Mon Espace de Confiance DRIM-M ».

Each step names the permission that does it (``operators.permissions.POLICY``): the home page tells each person the
next step *they* can do, and for a step only others can do, who those are (« un administrateur technique : Théo
Technique ») — a legal representative is never sent to the certificates, which only technical administrators manage.
"""
from dataclasses import dataclass, field

from django.db.models import Count
from django.urls import reverse

from trustspace.paris_time import paris_date
from trustspace.text import plural

from . import permissions
from .models import DrimboxStatus, Membership, Role
from .services.contracts import contract_status

ROLE_WORDS = {Role.LEGAL_REPRESENTATIVE: "le représentant légal", Role.MANDATAIRE: "un mandataire",
              Role.TECHNICAL_ADMIN: "un administrateur technique"}
ROLE_ORDER = (Role.LEGAL_REPRESENTATIVE, Role.MANDATAIRE, Role.TECHNICAL_ADMIN)


@dataclass
class Step:
    title: str
    done: bool
    detail: str
    url: str = ""
    action: str = ""
    permission: str = ""  # the action of operators.permissions.POLICY that does this step
    can_act: bool = True  # the person looking can do it
    who: str = ""  # who can, when the person looking cannot (« un administrateur technique : Théo Technique »)


@dataclass
class People:
    """The operator's people by role (active memberships), read once for every step of the page."""
    by_role: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, operator):
        by_role: dict[str, list[str]] = {}
        for membership in (Membership.objects.filter(operator=operator, ended_at__isnull=True)
                           .select_related("user").order_by("role", "created_at")):
            by_role.setdefault(membership.role, []).append(membership.user.display_name)
        return cls(by_role)

    def count(self, role):
        return len(self.by_role.get(role, []))

    def who_can(self, permission):
        """« le représentant légal ou un mandataire : Claire Martin, Paul Durand » (names of those who hold one of
        the roles the permission needs; none yet: said so)."""
        roles = [role for role in ROLE_ORDER if role in permissions.POLICY[permission]]
        words = [ROLE_WORDS[role] for role in roles]
        phrase = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " ou " + words[-1]
        names = [name for role in roles for name in self.by_role.get(role, [])]
        if not names:
            return f"{phrase} (personne n'a ce rôle pour l'instant)"
        return f"{phrase} : {', '.join(dict.fromkeys(names))}"


def for_person(step, user, operator, people):
    """Fill ``can_act`` and ``who`` of ``step`` for ``user``."""
    if step.permission:
        step.can_act = permissions.can(user, step.permission, operator)
        step.who = "" if step.can_act else people.who_can(step.permission)
    return step


def journey(operator, user=None, people=None):
    """(steps, next step ``user`` can do): the journey's steps in order, each saying whether ``user`` can do it
    (everyone when ``user`` is None) and otherwise who can."""
    current, acceptance = contract_status(operator)
    people = people or People.of(operator)
    boxes = {row["status"]: row["n"] for row in operator.drimboxes.values("status").annotate(n=Count("pk"))}
    in_space = boxes.get(DrimboxStatus.ACTIVE, 0)
    declared = sum(boxes.values()) - boxes.get(DrimboxStatus.WITHDRAWN, 0)
    legal, technical = people.count(Role.LEGAL_REPRESENTATIVE), people.count(Role.TECHNICAL_ADMIN)

    steps = [
        Step(
            "Contrat d'adhésion",
            acceptance is not None,
            f"Version {current.version} acceptée le {paris_date(acceptance.accepted_at)}."
            if acceptance
            else (f"La version {current.version} est à accepter avant toute démarche." if current
                  else "L'ANS n'a pas encore publié de contrat."),
            reverse("contract"), "Lire et accepter le contrat", "contract.accept",
        ),
        Step(
            "Représentant légal",
            legal > 0,
            plural(legal, "représentant légal désigné", "représentants légaux désignés") + ".",
            reverse("people"), "Gérer les personnes", "people.invite.representant_legal",
        ),
        Step(
            "Administrateurs techniques",
            technical > 0,
            plural(technical, "administrateur technique désigné", "administrateurs techniques désignés") + "."
            if technical
            else "Désignez au moins un administrateur technique (porteur de carte CPA) : lui seul gère les "
                 "certificats.",
            reverse("person_invite"), "Désigner un administrateur technique", "people.invite.administrateur_technique",
        ),
        Step(
            "Déclarations de DRIMbox",
            declared > 0,
            f"{plural(declared, 'DRIMbox déclarée', 'DRIMbox déclarées')}, "
            f"dont {plural(in_space, 'active', 'actives')} dans l'Espace de Confiance." if declared
            else "Aucune DRIMbox déclarée pour le moment.",
            reverse("request_create", args=["declaration"]), "Déclarer une DRIMbox", "request.declaration",
        ),
        Step(
            "Certificats",
            in_space > 0 and in_space == declared,
            "Chaque DRIMbox intégrée doit porter un certificat IGC-Santé (db) et un certificat du marché (vi)."
            if declared else "Les certificats se déposent une fois la DRIMbox déclarée.",
            reverse("certificate_dashboard"), "Voir mes certificats", "certificate.manage",
        ),
    ]
    if user is not None:
        for step in steps:
            for_person(step, user, operator, people)
    next_step = next((step for step in steps if not step.done and step.can_act), None)
    return steps, next_step
