"""Template helpers for the portal's DSFR forms (templates/includes/form.html and the action forms)."""
from django import template

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
