"""Bridge between domain errors and Django forms."""
from .errors import DomainError


def apply_domain_error(form, exc: DomainError):
    """Attach a DomainError to the form: field errors on their fields, the rest as a form-wide error."""
    attached = False
    for field, messages in exc.field_errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
            attached = True
    if not attached:
        form.add_error(None, exc.message)
