"""The person who logs in: bound to the iSC ``sub``, never to an e-mail address."""
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who logs in with iSC. Bound to the OIDC ``sub``, never to an e-mail address."""

    oidc_sub = models.CharField("identifiant iSC (sub)", max_length=255, unique=True, null=True, blank=True)
    is_ans_admin = models.BooleanField(
        "administrateur ANS",
        default=False,
        help_text="Mis à jour à chaque connexion iSC depuis la revendication configurée.",
    )
    # When iSC last said this person is an ANS administrator: personal API tokens carry ANS rights only while
    # this is recent (OIDC_ANS_RIGHTS_TOKEN_HOURS), since nothing re-asks iSC when a token is used.
    ans_rights_confirmed_at = models.DateTimeField("droits ANS confirmés par iSC le", null=True, blank=True)

    class Meta:
        verbose_name = "utilisateur"

    @property
    def display_name(self):
        full = self.get_full_name().strip()
        return full or self.email or self.username
