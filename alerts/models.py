"""Every model in one import, for Alembic's metadata and for tests.

The application's own code imports models from their feature
(``alerts.notices.models``); this module only gathers them.
"""

from alerts.dispatch.models import (
    Delivery,
    DeliveryStatus,
    FanoutJob,
    FanoutState,
    OutboxMessage,
    RateBucket,
)
from alerts.notices.models import (
    AuditEvent,
    Category,
    MsgType,
    Notice,
    NoticeRevision,
    NoticeStatus,
    RevisionState,
)
from alerts.operators.models import ApiKey, LoginAttempt, Operator, Role
from alerts.orm import Base, utcnow
from alerts.places.models import Address, Zone
from alerts.residents.models import (
    Consent,
    Erasure,
    InboundMessage,
    LegalBasis,
    RateCounter,
    Subscriber,
    SubscriberLocation,
    VerificationCode,
)

__all__ = [
    "Address",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Category",
    "Consent",
    "Delivery",
    "DeliveryStatus",
    "Erasure",
    "FanoutJob",
    "FanoutState",
    "InboundMessage",
    "LegalBasis",
    "LoginAttempt",
    "MsgType",
    "Notice",
    "NoticeRevision",
    "NoticeStatus",
    "Operator",
    "OutboxMessage",
    "RateBucket",
    "RateCounter",
    "RevisionState",
    "Role",
    "Subscriber",
    "SubscriberLocation",
    "VerificationCode",
    "Zone",
    "utcnow",
]
