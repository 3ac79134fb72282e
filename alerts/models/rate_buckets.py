"""The installation's send rate per channel: one token bucket row each, shared by all workers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class RateBucket(Base):
    """Tokens left for a channel ("sms", "email") as of ``refilled_at``.

    Dispatchers take tokens in small grants (alerts.dispatch.ratelimit), so
    ``VARSLA_SMS_RATE`` holds for the installation however many workers run.
    """

    __tablename__ = "rate_buckets"

    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[datetime]
