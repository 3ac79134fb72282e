"""Residents who receive notices, the places they receive them for, and what they chose.

A subscriber's contacts are verified one by one (``phone_verified_at``,
``email_verified_at``): a contact receives nothing but its verification until
then. ``categories`` is a bit mask of notice categories (NULL: all, the
default); ``paused_until`` silences new alerts until that moment;
``manage_version`` is carried by every manage link, so issuing a new link with
a higher version revokes the old ones. Consent, pending SMS codes, sign-up
rate counters and inbound SMS already handled have their own small tables.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, and_, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from alerts.orm import Base, EnumText, utcnow
from alerts.places.models import Address

#: The notice categories a resident can choose, each with its bit in ``Subscriber.categories``.
#: (The same values as :class:`alerts.notices.models.Category`; a test keeps them in step.)
CATEGORIES = (
    "water",
    "wastewater",
    "district_heating",
    "electricity",
    "roads",
    "waste",
    "other",
)
CATEGORY_BITS = {name: 1 << i for i, name in enumerate(CATEGORIES)}

#: The version of the privacy notice and sign-up text a resident agrees to (kept in consents).
CONSENT_TEXT_VERSION = "2026-11-30"


def category_mask(categories: Iterable[str] | None) -> int | None:
    """The bit mask of ``categories``; None (every category, also those added later) for
    None or all of them."""
    if categories is None:
        return None
    chosen = set(categories)
    unknown = chosen - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories: {', '.join(sorted(unknown))}")
    if chosen == set(CATEGORIES):
        return None
    mask = 0
    for name in chosen:
        mask |= CATEGORY_BITS[name]
    return mask


def categories_of(mask: int | None) -> list[str]:
    """The categories a mask stands for, in :data:`CATEGORIES` order."""
    if mask is None:
        return list(CATEGORIES)
    return [name for name in CATEGORIES if mask & CATEGORY_BITS[name]]


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
    # When the sign-up was first confirmed (any contact); imports are confirmed at once.
    # Unconfirmed sign-ups are purged after a day.
    verified_at: Mapped[datetime | None]
    # Each contact receives notices only once verified (a code by SMS, a link by email).
    phone_verified_at: Mapped[datetime | None]
    email_verified_at: Mapped[datetime | None]
    # Bit mask over CATEGORIES; NULL means every category.
    categories: Mapped[int | None] = mapped_column(Integer)
    paused_until: Mapped[datetime | None]
    # Carried by manage links; raising it revokes every link issued before.
    manage_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    sms_opted_out_at: Mapped[datetime | None]
    email_opted_out_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    locations: Mapped[list[SubscriberLocation]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )

    consents: Mapped[list[Consent]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Consent.id"
    )

    @property
    def category_names(self) -> list[str]:
        return categories_of(self.categories)

    def wants(self, channel: str) -> bool:
        """Whether this subscriber can and wants to get ``channel`` messages (contact level:
        verified, has the address, not opted out)."""
        if channel == "sms":
            return (
                self.phone is not None
                and self.phone_verified_at is not None
                and self.sms_opted_out_at is None
            )
        if channel == "email":
            return (
                self.email is not None
                and self.email_verified_at is not None
                and self.email_opted_out_at is None
            )
        return False

    def wants_notice(self, category: str, now: datetime) -> bool:
        """Whether a new alert of ``category`` is wanted now (categories, pause)."""
        if self.paused_until is not None and self.paused_until > now:
            return False
        return category in self.category_names


def wants_channel(channel: str) -> ColumnElement[bool]:
    """SQL twin of :meth:`Subscriber.wants`: verified contact, has it, not opted out."""
    if channel == "sms":
        return and_(
            Subscriber.phone.is_not(None),
            Subscriber.phone_verified_at.is_not(None),
            Subscriber.sms_opted_out_at.is_(None),
        )
    if channel == "email":
        return and_(
            Subscriber.email.is_not(None),
            Subscriber.email_verified_at.is_not(None),
            Subscriber.email_opted_out_at.is_(None),
        )
    raise ValueError(f"not a push channel: {channel!r}")


def wants_notice(category: str, now: datetime) -> ColumnElement[bool]:
    """SQL twin of :meth:`Subscriber.wants_notice`: the category is chosen, no pause now.

    Applies to new alerts; whoever received an alert hears its updates and
    all-clear whatever they chose since (see :mod:`alerts.dispatch.fanout`).
    """
    bit = CATEGORY_BITS.get(category, CATEGORY_BITS["other"])
    return and_(
        or_(Subscriber.categories.is_(None), Subscriber.categories.op("&")(bit) != 0),
        or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= now),
    )


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


class ConsentAction(enum.StrEnum):
    GIVEN = "given"  # signed up, or added an address, channel or category
    CHANGED = "changed"  # changed what they get
    WITHDRAWN = "withdrawn"  # opted out of a channel


class Consent(Base):
    """What a resident agreed to, when, through what, and to which version of the text."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[ConsentAction] = mapped_column(EnumText(ConsentAction, 20))
    source: Mapped[str] = mapped_column(String(40))  # web, api, manage, sms
    text_version: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")


class VerificationCode(Base):
    """The pending SMS code of a phone number: hashed, expiring, with its wrong tries."""

    __tablename__ = "verification_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateCounter(Base):
    """How many times ``key`` (a hash: no phone number is kept here) was used in a window."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class InboundMessage(Base):
    """An inbound SMS already acted on, by Twilio's MessageSid (a replay changes nothing)."""

    __tablename__ = "inbound_messages"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(10), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Erasure(Base):
    """An erasure, counted without anything that names who was erased."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))  # manage, cli, purge
    subscribers: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
