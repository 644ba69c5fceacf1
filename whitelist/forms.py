"""The ANS forms of the whitelist pages. They shape input; ``whitelist.services`` decides what is allowed."""
from django import forms
from dsfr.forms import DsfrBaseForm

from trustspace.idempotency import SubmissionTokenMixin


class PrepareForm(SubmissionTokenMixin, DsfrBaseForm):
    comment = forms.CharField(label="Commentaire", required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="whitelist-%s", **kwargs)


class AbandonForm(SubmissionTokenMixin, DsfrBaseForm):
    reason = forms.CharField(label="Motif de l'abandon", required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="abandon-%s", **kwargs)


class GitHubDecisionForm(SubmissionTokenMixin, DsfrBaseForm):
    """Accept (naming the portal request that carries the change, or why none does) or refuse (with a reason) a
    request received through a GitHub issue; the button pressed (``decision``) says which."""

    portal_request = forms.CharField(label="Référence de la demande du portail", required=False, max_length=20)
    no_link_reason = forms.CharField(
        label="Ou : motif pour lequel aucune demande du portail ne la porte (publié sur l'issue GitHub)",
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    comment = forms.CharField(
        label="Commentaire", required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Publié sur l'issue GitHub ; obligatoire pour un refus.")

    def __init__(self, *args, candidates=(), drimbox=None, **kwargs):
        super().__init__(*args, auto_id="decision-%s", **kwargs)
        field = self.fields["portal_request"]
        field.widget.attrs["list"] = "portal-request-choices"
        field.help_text = (
            f"Demandes de la DRIMbox {drimbox.identifiant if drimbox else ''} : "
            + " ; ".join(f"{c.reference} ({c.get_kind_display().lower()}, {c.get_status_display().lower()})"
                         for c in candidates)
            if candidates else "Aucune demande soumise ou approuvée de cette DRIMbox pour l'instant.")
        if len(candidates) == 1 and not self.is_bound:
            self.initial["portal_request"] = candidates[0].reference
