"""Every model in one import, for Alembic's metadata and for tests.

The application's own code imports models from their feature
(``alerts.notices.models``); this module only gathers them.
"""

from alerts.dispatch.models import Delivery, DeliveryStatus, OutboxMessage, RateBucket
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
from alerts.public.version import PublicVersion
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
    "InboundMessage",
    "LegalBasis",
    "LoginAttempt",
    "MsgType",
    "Notice",
    "NoticeRevision",
    "NoticeStatus",
    "Operator",
    "OutboxMessage",
    "PublicVersion",
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
