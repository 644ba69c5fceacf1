"""Login (iSC, or the demo's password form in development) and logout."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ..access import PUBLIC, access
from ..throttling import client_ip, post_field, throttle


def _safe_next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""


@access(PUBLIC)
@throttle("login_ip", client_ip, methods=["POST"])  # before the password is hashed
@throttle("login_username", post_field("username"), methods=["POST"])
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
    from ..oidc import ISC_NOT_CONNECTED, isc_connected

    return render(request, "trustspace/login.html", {"form": form, "next": _safe_next(request),
                                                     "isc_connected": isc_connected(),
                                                     "isc_not_connected": ISC_NOT_CONNECTED})


@access(PUBLIC)
@require_POST
def logout(request):
    """Local logout; an iSC session also ends at the provider (RP-initiated logout), which sends the browser
    back to the home page."""
    from ..oidc_session import end_session_url

    provider_logout = end_session_url(request)  # read before the session (and its id token) is flushed
    auth_logout(request)
    messages.success(request, "Vous êtes déconnecté.")
    return redirect(provider_logout or "home")
