"""Login, logout and personal API tokens."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .access import AUTHENTICATED, PUBLIC, access
from .errors import DomainError
from .forms_util import apply_domain_error
from .models import ApiToken
from .services import create_api_token, revoke_api_token


def _safe_next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""


@access(PUBLIC)
def login(request):
    """The iSC button; in development only, also the demo's password form."""
    if request.user.is_authenticated:
        return redirect(_safe_next(request) or "home")
    form = None
    if settings.DEBUG and settings.DEV_PASSWORD_LOGIN:
        form = AuthenticationForm(request, data=request.POST or None)
        form.fields["username"].label = "Identifiant"
        form.fields["password"].label = "Mot de passe"
        if request.method == "POST" and form.is_valid():
            auth_login(request, form.get_user(), backend="trustspace.auth_backends.DevelopmentPasswordBackend")
            return redirect(_safe_next(request) or "home")
    elif request.method == "POST":
        raise Http404
    return render(request, "trustspace/login.html", {"form": form, "next": _safe_next(request)})


@access(PUBLIC)
@require_POST
def logout(request):
    auth_logout(request)
    messages.success(request, "Vous êtes déconnecté.")
    return redirect("home")


@access(AUTHENTICATED)
def api_tokens(request):
    from operators.forms import ApiTokenForm

    form = ApiTokenForm(request.POST or None)
    created_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, created_secret = create_api_token(acting_user=request.user, name=form.cleaned_data["name"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    response = render(request, "trustspace/api_tokens.html", {"form": form, "tokens": tokens, "created_secret": created_secret})
    response["Cache-Control"] = "no-store"
    return response


@access(AUTHENTICATED)
@require_POST
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    try:
        revoke_api_token(token, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Le jeton « {token.name} » est révoqué.")
    return redirect("api_tokens")


@access(PUBLIC)
def health(request):
    return HttpResponse("ok", content_type="text/plain")
