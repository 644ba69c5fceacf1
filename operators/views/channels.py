"""« Canaux de notification » of an operator: its members see them; its legal representative sets them."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render

from operators import channels, services
from operators.context import user_operators
from operators.forms.space import ChannelsForm
from trustspace.access import OPERATOR_MEMBER, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error


def _member_operator(request, pk):
    """The operator ``pk`` among the user's own: another operator's page does not exist for them (404)."""
    operator = next((op for op in user_operators(request) if op.pk == pk), None)
    if operator is None:
        raise Http404("Opérateur introuvable.")
    return operator


@access(OPERATOR_MEMBER)
def operator_channels(request, pk):
    operator = _member_operator(request, pk)
    can_manage = channels.can_manage(request.user, operator)
    if request.method == "POST" and not can_manage:
        raise PermissionDenied(channels.DENIED)
    form = ChannelsForm(request.POST or None, initial={"technical_mailbox": operator.technical_mailbox,
                                                       "webhook_url": operator.webhook_url})
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            secret = services.set_channels(operator, acting_user=request.user, **form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if secret is None:
                messages.success(request, "Les canaux de notification sont enregistrés.")
                return redirect("operator_channels", pk=operator.pk)
            operator.refresh_from_db()
            form = ChannelsForm(initial={"technical_mailbox": operator.technical_mailbox,
                                         "webhook_url": operator.webhook_url})
    return render(request, "operators/channels.html", {
        "operator": operator, "form": form, "can_manage": can_manage, "secret": secret,
        "has_secret": bool(operator.webhook_secret_encrypted),
    })
