"""All models, so ``from alerts.models import Notice`` works and metadata is complete."""

from .addresses import Address
from .audit import AuditEvent
from .base import Base, utcnow
from .deliveries import Delivery, DeliveryStatus, OutboxMessage
from .notices import Category, MsgType, Notice, NoticeRevision, NoticeStatus, RevisionState
from .operators import ApiKey, LoginAttempt, Operator, Role
from .rate_buckets import RateBucket
from .subscribers import LegalBasis, Subscriber, SubscriberLocation
from .zones import Zone

__all__ = [
    "Address",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Category",
    "Delivery",
    "DeliveryStatus",
    "LegalBasis",
    "LoginAttempt",
    "MsgType",
    "Notice",
    "NoticeRevision",
    "NoticeStatus",
    "Operator",
    "OutboxMessage",
    "RateBucket",
    "RevisionState",
    "Role",
    "Subscriber",
    "SubscriberLocation",
    "Zone",
    "utcnow",
]
