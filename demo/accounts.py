"""The demo's accounts and what each can do: printed by ``manage.py demo_trustspace`` and by ``./scripts/run``
(``python -m demo.accounts``, without Django), listed in the README. ``demo.trust_space`` creates exactly these
people (a test holds the three together)."""
import sys

PASSWORD = "drimm-demo"  # noqa: S105 - the demo's published password; password login exists only with DEBUG=1

# (username, who, what to try with it)
ACCOUNTS = (
    ("ans.admin", "ANS", "instruit les demandes, registre, prépare la liste blanche, météo, PERF, /admin/"),
    ("ans.relecteur", "ANS", "approuve et publie la liste blanche préparée par ans.admin (quatre yeux)"),
    ("rl.emedia", "représentante légale E-MEDIA", "contrat, personnes, déclarations (une en attente, une à corriger)"),
    ("mandataire.emedia", "mandataire E-MEDIA", "déclarations, bons de commande, invitations"),
    ("at.emedia", "admin. technique E-MEDIA", "seul à gérer les certificats db/vi d'E-MEDIA, sa maintenance"),
    ("rl.radionum", "représentante légale Radiologie Numérique", "contrat, personnes, déclarations"),
    ("mandataire.radionum", "mandataire Radiologie Numérique", "déclarations, bons de commande, invitations"),
    ("at.radionum", "admin. technique Radiologie Numérique", "ses certificats, ses incidents (« Météo »)"),
    ("rl.imaco", "représentante légale Imagerie Connect", "contrat en vigueur à accepter avant toute démarche"),
    ("rl.nouvel", "demandeuse Nouvelle Imagerie", "adhésion en attente de l'ANS, aucun droit d'opérateur"),
)


def lines(indent: str = "  ") -> list[str]:
    width = max(len(username) for username, _who, _what in ACCOUNTS)
    return [f"{indent}{username:<{width}}  {who} : {what}" for username, who, what in ACCOUNTS]


def logins_text() -> str:
    return "\n".join([f"Comptes de démonstration (mot de passe « {PASSWORD} » pour tous) :", *lines()])


if __name__ == "__main__":
    indent = sys.argv[1] if len(sys.argv) > 1 else "  "
    print("\n".join(lines(indent)))
