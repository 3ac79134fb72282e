"""Every model in one import, for Alembic's metadata and for tests.

The application's own code imports models from their feature
(``alerts.notices.models``); this module only gathers them.
"""

from alerts.dispatch.exercise_models import ExerciseRecipient, ExerciseRun, TestGroupMember
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
from alerts.places.models import Address, PlaceImport, Zone
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
    "ExerciseRecipient",
    "ExerciseRun",
    "InboundMessage",
    "LegalBasis",
    "LoginAttempt",
    "MsgType",
    "Notice",
    "NoticeRevision",
    "NoticeStatus",
    "Operator",
    "OutboxMessage",
    "PlaceImport",
    "RateBucket",
    "RateCounter",
    "RevisionState",
    "Role",
    "Subscriber",
    "SubscriberLocation",
    "TestGroupMember",
    "VerificationCode",
    "Zone",
    "utcnow",
]
