"""Personal API tokens page: the form offers the user's operators and DRIMboxes as limits, so it lives here, above
``trustspace``, which keeps the ApiToken model and its create/revoke services."""
from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from operators import api_tokens as token_restrictions
from operators.forms import ApiTokenForm
from trustspace import services
from trustspace.access import AUTHENTICATED, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once, token_of
from trustspace.models import ApiToken


@access(AUTHENTICATED)
def api_tokens(request):
    form = ApiTokenForm(request.POST or None, user=request.user)
    created_secret = None
    if request.method == "POST" and (repeated := repeat_response(request, form, "api_tokens")):
        return repeated
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with submitted_once(request, form) as submission:
                _token, created_secret = services.create_api_token(
                    acting_user=request.user, name=data["name"], scopes=data["scopes"], operator_id=data["operator"],
                    drimbox_ids=data["drimboxes"], expires_at=data["expires_at"])
                submission.created(reverse("api_tokens"),
                                   "le jeton est déjà créé, son secret n'est affiché qu'une fois")
        except AlreadySubmitted as repeat:
            return repeat.response(request, "api_tokens")
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            form = ApiTokenForm(user=request.user)
    tokens = token_restrictions.describe(ApiToken.objects.filter(user=request.user))
    response = render(request, "operators/api_tokens.html", {
        "form": form, "tokens": tokens, "created_secret": created_secret,
        "max_days": settings.API_TOKEN_MAX_DAYS, "ans_rights_hours": settings.OIDC_ANS_RIGHTS_TOKEN_HOURS,
    })
    response["Cache-Control"] = "no-store"
    return response


@access(AUTHENTICATED)
@require_POST
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    page = reverse("api_tokens")
    try:
        with submitted_once(request, token_of(request)) as submission:
            services.revoke_api_token(token, acting_user=request.user)
            submission.created(page, f"le jeton « {token.name} » est déjà révoqué")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Le jeton « {token.name} » est révoqué.")
    return redirect("api_tokens")
