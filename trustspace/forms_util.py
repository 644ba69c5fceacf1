"""Bridge between domain errors and Django forms."""
from .errors import DomainError


def field_errors_for(form, exc: DomainError, aliases=None):
    """The error's field errors under the form's field names (``aliases``: {service's name: form's name})."""
    aliases = aliases or {}
    return {aliases.get(field, field): messages for field, messages in exc.field_errors.items()
            if aliases.get(field, field) in form.fields}


def apply_domain_error(form, exc: DomainError, aliases=None):
    """Attach a DomainError to the form: field errors on their fields, the rest as a form-wide error.
    ``aliases``: {the service's field name: the form's}, where they differ."""
    attached = False
    for field, messages in exc.field_errors.items():
        field = (aliases or {}).get(field, field)
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
            attached = True
    if not attached:
        form.add_error(None, exc.message)
