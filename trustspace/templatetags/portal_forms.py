"""Template helpers for the portal's DSFR forms (templates/includes/form.html and the action forms)."""
from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def error_count(form):
    """Every error message of the form — non-field errors and each field's, a field may have several — which is
    what the error summary lists (``form.errors|length`` counts the fields in error)."""
    return sum(len(messages) for messages in form.errors.values())


@register.filter
def error_anchor(field):
    """The id the error summary links to: the field's input, or the first choice of a group of radios or boxes
    (their group has no single input to focus)."""
    return field.id_for_label or (f"{field.auto_id}_0" if field.auto_id else "")


@register.simple_tag
def submission_token_field():
    """A fresh single-use submission token (``trustspace.idempotency``) for a form of one button: each rendering,
    each row of a table, its own."""
    from trustspace.idempotency import TOKEN_FIELD, new_token

    return format_html('<input type="hidden" name="{}" value="{}">', TOKEN_FIELD, new_token())
