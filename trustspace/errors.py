"""Domain errors raised by service functions.

Each carries a French message for the UI and a stable code for the API. The UI turns
them into form or page messages, the API into structured 4xx answers; never a 500.
"""


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message, *, code=None, field_errors=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field_errors = field_errors or {}


class InvalidData(DomainError):
    status_code = 400
    code = "invalid"


class NotAuthenticated(DomainError):
    """Credentials missing or wrong (machine-to-machine endpoints that authenticate by header)."""

    status_code = 401
    code = "unauthorized"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class NotAllowed(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    """An illegal transition or a state that forbids the change."""

    status_code = 409
    code = "conflict"


class ContractNotAccepted(Conflict):
    code = "contract_not_accepted"

    def __init__(self, message=None):
        super().__init__(
            message
            or "Votre opérateur doit accepter la version en vigueur du contrat d'adhésion avant toute autre démarche."
        )
