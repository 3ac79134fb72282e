"""What every channel shares: the notice as channels see it, languages, local time, the push interface.

Channels never import the database or Flask. The application turns a notice
revision into a :class:`NoticeSnapshot` and hands it over; composers
(``channels.compose``) turn it into a :class:`Message`, providers
(``channels.providers``) ``send`` that to one :class:`Recipient` and answer
with a :class:`DeliveryResult`; pull channels (feeds, CAP, banner) render
snapshots to bytes.

The one home of two rules the whole product follows, for the app too:

* language fallback: :func:`ui_language` (which of our languages a request
  means) and :func:`effective_language` (which language a text is shown in:
  the wanted one, else Swedish, else any);
* local time: :data:`LOCAL_TZ`, :func:`to_local`, :func:`from_local` and
  :func:`local_time` (``2026-11-24 08:15`` as residents read it).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

#: Our languages, the primary one first.
LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"

#: The time zone every resident-facing time is shown in.
LOCAL_TZ = ZoneInfo("Europe/Stockholm")

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


def ui_language(requested: str | None) -> str:
    """One of :data:`LANGUAGES` for a requested code: ``en-GB`` -> ``en``; unknown -> ``sv``."""
    primary = (requested or DEFAULT_LANGUAGE).split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def effective_language(available: Iterable[str], wanted: str | None) -> str:
    """The language to show something in, out of the ``available`` ones.

    ``wanted`` as given when available (so a language outside
    :data:`LANGUAGES` still works), else its :func:`ui_language` (``en-GB`` ->
    ``en``), else Swedish, else the first available. ``available`` is any
    iterable of language codes, e.g. a ``{lang: text}`` mapping. Raises
    ``LookupError`` when nothing is available.
    """
    languages = list(available)
    for candidate in (wanted, ui_language(wanted), DEFAULT_LANGUAGE, *languages):
        if candidate in languages:
            return candidate
    raise LookupError("nothing available in any language")


def masked(address: str) -> str:
    """A phone number or email address as logs may show it: ``+4670*****05``, ``a***@example.se``.

    Enough to tell two apart when debugging, not enough to contact anyone.
    """
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if len(address) <= 6:
        return "*" * len(address)
    return address[:5] + "*" * (len(address) - 7) + address[-2:]


def to_local(moment: datetime) -> datetime:
    """``moment`` in :data:`LOCAL_TZ`. A naive datetime is taken as UTC, what the database keeps."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ)


def from_local(wall_clock: datetime) -> datetime:
    """A naive wall-clock time as typed in Sweden (a form's ``datetime-local``), made aware."""
    if wall_clock.tzinfo is not None:
        return wall_clock
    return wall_clock.replace(tzinfo=LOCAL_TZ)


MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"


def local_time(moment: datetime | str | None, fmt: str = MINUTES) -> str:
    """``2026-11-24 08:15``: Swedish wall-clock time, as people read it ("" for None).

    ``moment`` may be an ISO 8601 string (as reports hand them over)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return to_local(moment).strftime(fmt)


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
    next_update: datetime | None = None  # the next word on this, at the latest
    expected_restoration: datetime | None = None  # when the service should be back
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
    # A training-mode copy for the test group: every text says so, CAP <status>Exercise.
    exercise: bool = False

    @property
    def ended(self) -> bool:
        return self.status in ("cancelled", "expired") or self.msg_type == "Cancel"

    @property
    def kind(self) -> str:
        """ "Cancel" for an all-clear, "Update" for an update, "Alert" otherwise."""
        if self.msg_type == "Cancel" or self.status == "cancelled":
            return "Cancel"
        if self.msg_type == "Update":
            return "Update"
        return "Alert"

    def text_language(self, wanted: str | None) -> str:
        """The language :meth:`text` answers in for ``wanted`` (see :func:`effective_language`)."""
        try:
            return effective_language(self.texts, wanted)
        except LookupError:
            raise LookupError("notice has no texts") from None

    def text(self, wanted: str | None) -> NoticeText:
        """The wording in ``wanted``, falling back to Swedish, then any language."""
        return self.texts[self.text_language(wanted)]

    def area_text(self, wanted: str | None) -> str:
        """The area's description in ``wanted`` with the same fallback ("" when there is none)."""
        described = [lang for lang, text in self.area_description.items() if text]
        if not described:
            return ""
        return self.area_description[effective_language(described, wanted)]

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


def message_kind(snapshot: NoticeSnapshot) -> str:
    """ "Cancel" for an all-clear, "Update" for an update, "Alert" otherwise."""
    return snapshot.kind


class PushChannel(ABC):
    """A provider that sends one message to one recipient (the push interface).

    Subclasses set ``name`` and their limits as class attributes, take their
    configuration in the constructor and implement ``try_send``; ``send`` adds
    timing and logging and turns unexpected exceptions into a RETRY result so
    one bad message can never stop a dispatcher.
    """

    #: The channel this provider serves: "sms" or "email" (the dispatcher's key).
    name: str
    #: True when the channel only writes to the local outbox and sends nothing.
    local_only: ClassVar[bool] = False
    #: The longest ``Message.body`` the provider takes, in characters (None: no limit).
    #: A longer body fails here, before a request the provider would refuse.
    body_maxlen: ClassVar[int | None] = None

    def send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        started = time.perf_counter()
        result = self._too_long(message)
        if result is None:
            try:
                result = self.try_send(recipient, message)
            except Exception as exc:
                result = self._unexpected(message, exc)
        return self._timed(message, result, started)

    async def send_async(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """:meth:`send` on an asyncio event loop: the same checks, timing and logging.

        Calls :meth:`try_send_async`, which a provider with an asyncio client
        overrides; by default it runs :meth:`try_send` in a thread.
        """
        started = time.perf_counter()
        result = self._too_long(message)
        if result is None:
            try:
                result = await self.try_send_async(recipient, message)
            except Exception as exc:
                result = self._unexpected(message, exc)
        return self._timed(message, result, started)

    def _too_long(self, message: Message) -> DeliveryResult | None:
        if self.body_maxlen is not None and len(message.body) > self.body_maxlen:
            return DeliveryResult(
                Outcome.FAILED,
                error_code="body_too_long",
                error=f"{len(message.body)} characters, {self.name} takes {self.body_maxlen}",
            )
        return None

    def _unexpected(self, message: Message, exc: Exception) -> DeliveryResult:
        logger.exception("%s: unexpected error sending %s", self.name, message.reference)
        return DeliveryResult(Outcome.RETRY, error_code="exception", error=repr(exc))

    def _timed(self, message: Message, result: DeliveryResult, started: float) -> DeliveryResult:
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

    async def try_send_async(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """Send one message on the running event loop (by default: :meth:`try_send` in a
        thread); return what happened, never raise for provider faults."""
        return await asyncio.to_thread(self.try_send, recipient, message)

    async def close_async(self) -> None:
        """Release what :meth:`send_async` holds (by default: :meth:`close` in a thread)."""
        await asyncio.to_thread(self.close)

    @abstractmethod
    def try_send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """Send one message; return what happened, never raise for provider faults."""

    def close(self) -> None:
        """Release connections held across a batch (nothing to release by default)."""
        return None
