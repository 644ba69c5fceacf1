"""Operators' data (DESIGN §2). Only ``operators.services`` writes these models (DESIGN §3)."""
from .core import (  # noqa: F401
    ContractAcceptance,
    ContractVersion,
    Invitation,
    InvitationStatus,
    Membership,
    Operator,
    Role,
    mandate_upload_to,
)
from .documents import Attestation, VaDocument, VaStatus  # noqa: F401
from .financing import (  # noqa: F401
    FinancingOrder,
    FinancingOrderClient,
    FinancingOrderPacs,
    FinancingOrderPhysician,
    FinancingOrderSite,
    FinancingOrderStatus,
    RisWave,
)
from .lifecycle import (  # noqa: F401
    DnsChange,
    DnsChangeStatus,
    Drimbox,
    DrimboxStatus,
    HealthStructure,
    IdentifiantCounter,
    PendingRevocation,
    PendingRevocationKind,
    PendingRevocationStatus,
)
from .requests import (  # noqa: F401
    DECLARATION_KINDS,
    EDITABLE_STATUSES,
    ONBOARDING_KINDS,
    OPEN_STATUSES,
    STARTING_STATUSES,
    AttachmentKind,
    DrimboxRequest,
    RequestAttachment,
    RequestEvent,
    RequestEventKind,
    RequestKind,
    RequestStatus,
)
