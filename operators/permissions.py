"""Who may do what on an operator's objects: decided here and nowhere else.

Service functions call :func:`require`; views and API scope their querysets with
:func:`operators_of` and the active operator. ANS administrators see every operator
(back office) but never act in an operator's name.
"""

from trustspace.errors import NotAllowed

from .models import Membership, Role

MANAGERS = frozenset({Role.LEGAL_REPRESENTATIVE, Role.MANDATAIRE})
ALL_ROLES = frozenset(Role)

# action -> roles of the operator that may perform it
POLICY = {
    "operator.view": ALL_ROLES,
    "operator.update": MANAGERS,
    "operator.history": ALL_ROLES,
    "contract.accept": MANAGERS,
    "people.view": ALL_ROLES,
    "people.invite.administrateur_technique": MANAGERS,
    "people.invite.mandataire": frozenset({Role.LEGAL_REPRESENTATIVE}),
    "people.invite.representant_legal": frozenset({Role.LEGAL_REPRESENTATIVE}),
    "people.remove.administrateur_technique": MANAGERS,
    "people.remove.mandataire": frozenset({Role.LEGAL_REPRESENTATIVE}),
    "people.remove.representant_legal": frozenset({Role.LEGAL_REPRESENTATIVE}),
    "support_contact.update": frozenset({Role.TECHNICAL_ADMIN}),
    "mandate.download": MANAGERS,
    # DRIMboxes and requests (DESIGN §5): contractual requests by managers, technical ones also by
    # technical administrators; everyone of the operator follows them.
    "drimbox.view": ALL_ROLES,
    "request.view": ALL_ROLES,
    "request.declaration": MANAGERS,
    "request.bascule": MANAGERS,
    "request.retrait": MANAGERS,
    "request.reintegration": MANAGERS,
    "request.integration": MANAGERS | {Role.TECHNICAL_ADMIN},
    "request.mise_a_jour": MANAGERS | {Role.TECHNICAL_ADMIN},
    "request.comment": ALL_ROLES,
    "order.manage": MANAGERS,
    "attestation.download": ALL_ROLES,
    "va.upload": MANAGERS | {Role.TECHNICAL_ADMIN},
    "va.download": ALL_ROLES,
    # Certificates (DESIGN §5, §6): only technical administrators manage them; everyone follows them.
    "certificate.view": ALL_ROLES,
    "certificate.manage": frozenset({Role.TECHNICAL_ADMIN}),
    "certificate.export": ALL_ROLES,
}
# Actions an ANS administrator may perform on any operator (reading only).
ANS_ACTIONS = frozenset({
    "operator.view", "operator.history", "people.view", "mandate.download", "drimbox.view", "request.view",
    "attestation.download", "va.download", "certificate.view", "certificate.export",
})

DENIED_MESSAGES = {
    "support_contact.update": ("Seuls les administrateurs techniques de l'opérateur peuvent modifier le contact "
                               "support."),
    "request.declaration": ("Seuls le représentant légal et les mandataires de l'opérateur peuvent déclarer une "
                            "DRIMbox."),
    "request.bascule": "Seuls le représentant légal et les mandataires de l'opérateur peuvent reprendre une DRIMbox.",
    "request.retrait": "Seuls le représentant légal et les mandataires de l'opérateur peuvent demander un retrait.",
    "request.reintegration": "Seuls le représentant légal et les mandataires peuvent demander une réintégration.",
    "order.manage": "Seuls le représentant légal et les mandataires de l'opérateur gèrent les bons de commande.",
    "certificate.manage": "Seuls les administrateurs techniques de l'opérateur gèrent les certificats.",
}
DEFAULT_DENIED = "Vous n'avez pas le rôle requis chez cet opérateur pour cette action."


def roles_of(user, operator):
    """The active roles of ``user`` in ``operator`` (cached per user object for the request)."""
    if not user or not user.is_authenticated or operator is None:
        return frozenset()
    limited_to = token_operator_id(user)
    if limited_to is not None and operator.pk != limited_to:
        return frozenset()
    cache = user.__dict__.setdefault("_operator_roles", {})
    if operator.pk not in cache:
        cache[operator.pk] = frozenset(
            Membership.objects.filter(operator=operator, user=user, ended_at__isnull=True)
            .values_list("role", flat=True)
        )
    return cache[operator.pk]


def forget_roles(user):
    user.__dict__.pop("_operator_roles", None)


def can(user, action, operator):
    if action not in POLICY:
        raise KeyError(f"unknown action {action!r}")
    if getattr(user, "is_ans_admin", False) and action in ANS_ACTIONS:
        return True
    return bool(roles_of(user, operator) & POLICY[action])


def require(user, action, operator):
    if not can(user, action, operator):
        raise NotAllowed(DENIED_MESSAGES.get(action, DEFAULT_DENIED))


def operators_of(user):
    """Operators in which ``user`` holds at least one active role."""
    from .models import Operator

    if not user or not user.is_authenticated:
        return Operator.objects.none()
    operators = Operator.objects.filter(memberships__user=user, memberships__ended_at__isnull=True).distinct()
    limited_to = token_operator_id(user)
    return operators if limited_to is None else operators.filter(pk=limited_to)


def token_operator_id(user):
    """The operator an API token limits this request to (set by ``ApiTokenAuthentication``); None: no limit."""
    return getattr(getattr(user, "api_token_in_use", None), "operator_id", None)
