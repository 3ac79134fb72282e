"""Residents who receive notices, and the places they receive them for."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from alerts.orm import Base, EnumText, utcnow
from alerts.places.models import Address


class LegalBasis(enum.StrEnum):
    """GDPR article 6 basis for holding the contact details."""

    CONSENT = "consent"  # the resident signed up
    PUBLIC_TASK = "public_task"  # imported from a utility's customer register


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    language: Mapped[str] = mapped_column(String(5), default="sv")
    legal_basis: Mapped[LegalBasis] = mapped_column(
        EnumText(LegalBasis, 20), default=LegalBasis.CONSENT
    )
    source: Mapped[str] = mapped_column(String(200), default="self_service")
    # Self-service sign-ups are verified before they receive anything; imports are not.
    verified_at: Mapped[datetime | None]
    sms_opted_out_at: Mapped[datetime | None]
    email_opted_out_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    locations: Mapped[list[SubscriberLocation]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )

    def wants(self, channel: str) -> bool:
        """Whether this subscriber can and wants to get ``channel`` messages now."""
        if self.verified_at is None:
            return False
        if channel == "sms":
            return self.phone is not None and self.sms_opted_out_at is None
        if channel == "email":
            return self.email is not None and self.email_opted_out_at is None
        return False


def wants_channel(channel: str) -> ColumnElement[bool]:
    """SQL twin of :meth:`Subscriber.wants`: verified, has the address, not opted out."""
    if channel == "sms":
        return and_(
            Subscriber.verified_at.is_not(None),
            Subscriber.phone.is_not(None),
            Subscriber.sms_opted_out_at.is_(None),
        )
    if channel == "email":
        return and_(
            Subscriber.verified_at.is_not(None),
            Subscriber.email.is_not(None),
            Subscriber.email_opted_out_at.is_(None),
        )
    raise ValueError(f"not a push channel: {channel!r}")


class SubscriberLocation(Base):
    """A point a subscriber wants notices for (their home, a parent's house)."""

    __tablename__ = "subscriber_locations"
    __table_args__ = (
        # Covers the targeting prefilter (bounding box → subscriber ids) without table reads.
        Index("ix_subscriber_locations_lon_lat_subscriber", "lon", "lat", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(300), default="")  # the address as shown
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="locations")
    address: Mapped[Address | None] = relationship()
