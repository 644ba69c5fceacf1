"""``{% error_with_detail text %}``: a stored error as its French message, the original (from a CA, GitHub…)
folded in a « Détail technique » element (see ``trustspace.technical_detail``)."""
from django import template

from trustspace.technical_detail import split_detail

register = template.Library()


@register.inclusion_tag("includes/technical_detail.html")
def error_with_detail(text):
    message, detail = split_detail(text)
    return {"message": message, "detail": detail}
