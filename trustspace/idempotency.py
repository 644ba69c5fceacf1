"""Double submits of the portal's forms: each rendered form carries a submission token, used once.

A form that creates rows mixes in ``SubmissionTokenMixin`` (a hidden ``submission_token`` field, fresh at each
rendering); its view creates inside ``submitted_once(request, form, …)``. The token is recorded
(``FormSubmission``, unique per user and token) first in the transaction that creates the rows, so a second POST
of the same form — a double click, back then resubmit, twenty at once — waits for the first, creates nothing and
is sent to what the first one created with « Ce formulaire a déjà été envoyé : … ». If the first one failed,
nothing was recorded and the second one is a submission like any other.

A POST without a token (a tab opened before tokens existed, a script) is still accepted: it is one submission,
as before, only without the protection; refusing it would lose what the person typed for no safety gain.
"""
import re
import secrets
from contextlib import contextmanager
from datetime import timedelta

from celery import shared_task
from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.utils import timezone

from .models import FormSubmission

TOKEN_FIELD = "submission_token"  # noqa: S105 - a form field name, not a secret
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
DEFAULT_WHAT = "voici la demande créée"


def new_token():
    return secrets.token_urlsafe(24)


class SubmissionTokenMixin(forms.Form):
    """Adds the hidden, single-use submission token to a form (a new one each time the form is rendered unbound;
    a form shown again with its errors keeps its token: nothing was created)."""

    submission_token = forms.CharField(widget=forms.HiddenInput, required=False, initial=new_token)

    def clean_submission_token(self):
        token = (self.cleaned_data.get(TOKEN_FIELD) or "").strip()
        if token and not TOKEN_PATTERN.match(token):
            raise forms.ValidationError("Jeton d'envoi du formulaire invalide : rechargez la page puis recommencez.")
        return token


def token_of(source):
    """The well-formed submission token sent with a bound form (its prefix applied) or a request, else ""."""
    if isinstance(source, forms.BaseForm):
        raw = source.data.get(source.add_prefix(TOKEN_FIELD), "")
    else:
        raw = source.POST.get(TOKEN_FIELD, "")
    raw = str(raw or "").strip()
    return raw if TOKEN_PATTERN.match(raw) else ""


class AlreadySubmitted(Exception):
    """This form was already sent: ``response(request)`` is the redirect to what the first POST created."""

    def __init__(self, submission):
        super().__init__("form already submitted")
        self.submission = submission

    def response(self, request, fallback):
        submission = self.submission
        what = (submission.created_what if submission else "") or DEFAULT_WHAT
        messages.info(request, f"Ce formulaire a déjà été envoyé : {what}.")
        target = (submission.redirect_url if submission else "") or fallback
        return redirect(target)


class Submission:
    """Handed to the creating block: ``created(url, what)`` tells where a repeat of this form is sent."""

    def __init__(self, record):
        self.record = record

    def created(self, redirect_url, what=DEFAULT_WHAT):
        if self.record is not None:
            self.record.redirect_url = str(redirect_url)[:500]
            self.record.created_what = what[:200]
            self.record.save(update_fields=["redirect_url", "created_what"])


def _previous(user, token):
    return FormSubmission.objects.filter(user=user, token=token).first()


@contextmanager
def submitted_once(request, form_or_token):
    """One transaction that creates what the form asks, once per submission token.

    Raises ``AlreadySubmitted`` (before anything is created) when this token was already used by this user;
    a concurrent twin waits on the token's unique index until the first commits, then gets the same answer.
    """
    token = form_or_token if isinstance(form_or_token, str) else token_of(form_or_token)
    user = request.user
    if not token or not user.is_authenticated:
        with transaction.atomic():
            yield Submission(None)
        return
    previous = _previous(user, token)
    if previous is not None:
        raise AlreadySubmitted(previous)
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the twin that lost keeps a usable transaction to look up
                record = FormSubmission.objects.create(user=user, token=token)
        except IntegrityError:
            raise AlreadySubmitted(_previous(user, token)) from None
        yield Submission(record)


def repeat_response(request, form_or_token, fallback):
    """Before any work: the redirect for a form already sent (its message included), or None."""
    token = form_or_token if isinstance(form_or_token, str) else token_of(form_or_token)
    if not token or not request.user.is_authenticated:
        return None
    previous = _previous(request.user, token)
    return AlreadySubmitted(previous).response(request, fallback) if previous is not None else None


def purge_form_submissions(older_than):
    """Forget tokens older than ``older_than`` (a datetime): a form that old is not resubmitted by a double click."""
    deleted, _ = FormSubmission.objects.filter(created_at__lt=older_than).delete()
    return deleted


@shared_task(ignore_result=True)
def purge_idempotency_records():
    """Hourly (beat): expired API idempotency keys and old form submission tokens."""
    from .models import IdempotencyKey

    now = timezone.now()
    keys, _ = IdempotencyKey.objects.filter(expires_at__lte=now).delete()
    tokens = purge_form_submissions(now - timedelta(days=settings.IDEMPOTENCY_FORM_TOKEN_DAYS))
    return {"keys": keys, "form_tokens": tokens}
