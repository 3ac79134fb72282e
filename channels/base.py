"""What every channel shares: the notice as channels see it, and the push interface.

Channels never import the database or Flask. The application turns a notice
revision into a :class:`NoticeSnapshot` and hands it over; push channels
(SMS, email) compose a message from it and ``send`` it to one recipient, pull
channels (feeds, CAP, banner) render snapshots to bytes.
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

LANGUAGES = ("sv", "en")

# CAP 1.2 <category> for each of our notice categories.
CAP_CATEGORY = {
    "water": "Infra",
    "wastewater": "Infra",
    "district_heating": "Infra",
    "electricity": "Infra",
    "roads": "Transport",
    "waste": "Env",
    "other": "Other",
}

SEVERITY_ORDER = {"Extreme": 0, "Severe": 1, "Moderate": 2, "Minor": 3, "Unknown": 4}


@dataclass(frozen=True)
class NoticeText:
    """One language's wording of a notice."""

    headline: str
    description: str = ""
    instruction: str = ""


@dataclass(frozen=True)
class Circle:
    """A circle on the ground: centre in lon/lat, radius in metres."""

    lon: float
    lat: float
    radius_m: float


@dataclass(frozen=True)
class RevisionRef:
    """An earlier revision a later one replaces (CAP ``references``)."""

    identifier: str
    sent: datetime


@dataclass(frozen=True)
class NoticeSnapshot:
    """One revision of a notice, with everything a channel needs to show it.

    ``identifier`` is this revision's CAP identifier; ``entry_id`` stays the
    same for the notice's whole life (feeds use it). ``area_geojson_lon_lat``
    is the already simplified area as a GeoJSON Polygon/MultiPolygon mapping.
    All datetimes are timezone-aware.
    """

    notice_id: uuid.UUID
    revision: int
    identifier: str
    msg_type: str  # "Alert" | "Update" | "Cancel"
    status: str  # notice status: active, cancelled, expired, scheduled, ...
    category: str  # one of CAP_CATEGORY's keys
    severity: str
    urgency: str
    certainty: str
    texts: Mapping[str, NoticeText]
    sent: datetime
    updated: datetime
    onset: datetime | None = None
    expires: datetime | None = None
    area_description: Mapping[str, str] = field(default_factory=dict)  # per language
    area_geojson_lon_lat: Mapping[str, Any] | None = None
    circles: tuple[Circle, ...] = ()
    zones: tuple[str, ...] = ()  # zone slugs
    references: tuple[RevisionRef, ...] = ()
    url: str = ""  # public page of the notice
    cap_url: str = ""  # CAP document of this revision
    sender: str = "varsla@localhost"
    sender_name: str = "Varsla"
    event: Mapping[str, str] = field(default_factory=dict)  # CAP <event> per language

    @property
    def ended(self) -> bool:
        return self.status in ("cancelled", "expired") or self.msg_type == "Cancel"

    def text(self, lang: str) -> NoticeText:
        """The wording in ``lang``, falling back to Swedish, then any language."""
        for candidate in (lang, "sv", *self.texts):
            if candidate in self.texts:
                return self.texts[candidate]
        raise LookupError("notice has no texts")

    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in LANGUAGES if lang in self.texts) or tuple(self.texts)


class Outcome(enum.StrEnum):
    """How one send attempt ended, from the dispatcher's point of view."""

    ACCEPTED = "accepted"  # the provider took it; provider_ref says which message
    RETRY = "retry"  # transient: try again later
    FAILED = "failed"  # permanent for this recipient and message
    OPTED_OUT = "opted_out"  # the recipient has unsubscribed at the provider (Twilio 21610)


@dataclass(frozen=True)
class DeliveryResult:
    """Why a send worked or did not, and the provider's id when it worked."""

    outcome: Outcome
    provider_ref: str | None = None
    error_code: str | None = None
    error: str | None = None
    retry_after_s: float | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


@dataclass(frozen=True)
class Recipient:
    """Where one message goes: an E.164 phone number or an email address."""

    address: str
    language: str = "sv"
    name: str = ""
    unsubscribe_url: str = ""  # one-click / manage link for this subscriber


@dataclass(frozen=True)
class Message:
    """A composed message. SMS uses ``body``; email uses all fields."""

    body: str
    subject: str = ""
    html: str = ""
    language: str = "sv"
    reference: str = ""  # our delivery id: Message-ID, Twilio callback key
    headers: Mapping[str, str] = field(default_factory=dict)
    expires: datetime | None = None  # do not deliver after this


class PushChannel(ABC):
    """A channel that sends one message to one recipient.

    Subclasses set ``name`` and implement ``try_send``; ``send`` adds timing
    and logging and turns unexpected exceptions into a RETRY result so one bad
    message can never stop a dispatcher.
    """

    name: ClassVar[str]
    #: True when the channel only writes to the local outbox and sends nothing.
    local_only: ClassVar[bool] = False

    def send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        started = time.perf_counter()
        try:
            result = self.try_send(recipient, message)
        except Exception as exc:
            logger.exception("%s: unexpected error sending %s", self.name, message.reference)
            result = DeliveryResult(Outcome.RETRY, error_code="exception", error=repr(exc))
        duration = time.perf_counter() - started
        logger.debug(
            "%s: %s -> %s in %.3fs (%s)",
            self.name,
            message.reference,
            result.outcome,
            duration,
            result.error_code,
        )
        return DeliveryResult(
            result.outcome,
            result.provider_ref,
            result.error_code,
            result.error,
            result.retry_after_s,
            duration,
        )

    @abstractmethod
    def try_send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """Send one message; return what happened, never raise for provider faults."""

    def close(self) -> None:
        """Release connections held across a batch (nothing to release by default)."""
        return None
