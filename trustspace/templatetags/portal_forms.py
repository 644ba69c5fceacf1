"""Template helpers for the portal's DSFR forms (templates/includes/form.html)."""
from django import template

register = template.Library()


@register.filter
def error_count(form):
    """Every error message of the form — non-field errors and each field's, a field may have several — which is
    what the error summary lists (``form.errors|length`` counts the fields in error)."""
    return sum(len(messages) for messages in form.errors.values())
