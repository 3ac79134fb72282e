"""What each subscriber receives: short links, unsubscribe tokens, and composed messages.

Composition is pure (no database): the dispatcher builds a revision's
:class:`~channels.base.NoticeSnapshot` once, in its main thread, and sending
threads compose each recipient's message from it. An SMS text depends only on
the revision and the language, so it is composed once per pair and copied
with each delivery's own reference.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

from alerts.residents.tokens import manage_token
from channels.base import Message, NoticeSnapshot, Recipient, message_kind
from channels.compose.email import EmailTemplate, email_template
from channels.compose.sms import compose_sms
from channels.gsm import sms_info

logger = logging.getLogger(__name__)

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_UNSUBSCRIBE_SALT = "varsla-unsubscribe"


def short_code(notice_id: uuid.UUID) -> str:
    """The notice id in base 62 (22 characters instead of 36): short, and needs no lookup."""
    number = notice_id.int
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits)) or "0"


def notice_id_from_code(code: str) -> uuid.UUID | None:
    """The notice id a short code stands for, or None when it is not one."""
    if not code or len(code) > 22:
        return None
    number = 0
    for char in code:
        index = _ALPHABET.find(char)
        if index < 0:
            return None
        number = number * 62 + index
    if number >= 1 << 128:
        return None
    return uuid.UUID(int=number)


def short_link(base_url: str, notice_id: uuid.UUID) -> str:
    """The link an SMS carries: ``<base>/n/<code>``, redirecting to the notice's page."""
    return f"{base_url.rstrip('/')}/n/{short_code(notice_id)}"


@functools.lru_cache(maxsize=8)
def _unsubscribe_serializer(secret: str) -> URLSafeSerializer:
    # One per secret: every email carries a token, and building the serializer cost as
    # much as signing.
    return URLSafeSerializer(secret, salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token(secret: str, subscriber_id: int, channel: str) -> str:
    """A signed token naming one subscriber and channel (one-click unsubscribe, RFC 8058)."""
    return _unsubscribe_serializer(secret).dumps([subscriber_id, channel])


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str] | None:
    """(subscriber id, channel) from a token, or None when it is forged or malformed."""
    try:
        subscriber_id, channel = _unsubscribe_serializer(secret).loads(token)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(subscriber_id, int) or channel not in ("sms", "email"):
        return None
    return subscriber_id, channel


def make_reference(delivery_id: int, attempt: int) -> str:
    """Our reference of one send attempt: Twilio callback key and email Message-ID local part.

    The attempt number makes a receipt for an earlier attempt recognisably stale.
    """
    return f"{delivery_id}.{attempt}"


def parse_reference(reference: str) -> tuple[int, int] | None:
    """(delivery id, attempt) from :func:`make_reference`'s output, or None."""
    head, _, tail = reference.partition(".")
    # ASCII digits of a BIGINT id and a small attempt number; anything else is not ours.
    if not (head.isascii() and head.isdigit() and len(head) <= 18):
        return None
    if not (tail.isascii() and tail.isdigit() and len(tail) <= 6):
        return None
    return int(head), int(tail)


@dataclasses.dataclass(frozen=True)
class Links:
    """Where links in messages point; from ``VARSLA_BASE_URL`` and the secret key."""

    base_url: str
    secret: str

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or "localhost"

    def unsubscribe_url(self, subscriber_id: int, channel: str) -> str:
        token = unsubscribe_token(self.secret, subscriber_id, channel)
        return f"{self.base_url}/u/{token}"

    def manage_url(self, subscriber_id: int, version: int) -> str:
        """The resident's manage page (``/subscriptions/<token>``), revocable by version."""
        return f"{self.base_url}/subscriptions/{manage_token(self.secret, subscriber_id, version)}"

    @property
    def status_callback_url(self) -> str:
        return f"{self.base_url}/webhooks/twilio/status"


def for_sending(snapshot: NoticeSnapshot) -> NoticeSnapshot:
    """The snapshot as a message should show it.

    An all-clear never goes stale: it carries no expiry, so it is neither
    refused by Twilio's ValidityPeriod nor dropped when the original's time
    has passed.
    """
    if message_kind(snapshot) == "Cancel":
        return dataclasses.replace(snapshot, expires=None)
    return snapshot


class Composer:
    """Composes messages of one dispatcher; thread-safe. An SMS text, and an email but for its
    recipient's address and links, are composed once per revision and language."""

    def __init__(self, links: Links) -> None:
        self.links = links
        self._sms: dict[tuple[uuid.UUID, int, str, bool], Message] = {}
        self._email: dict[tuple[uuid.UUID, int, str, bool], EmailTemplate] = {}
        self._lock = threading.Lock()

    def sms(self, snapshot: NoticeSnapshot, language: str, reference: str) -> Message:
        key = (snapshot.notice_id, snapshot.revision, language, snapshot.exercise)
        # Read without the lock (a dict read is atomic); the lock keeps writers in order.
        cached = self._sms.get(key)
        if cached is None:
            cached = compose_sms(
                for_sending(snapshot),
                language,
                link=short_link(self.links.base_url, snapshot.notice_id),
                reference="",
            )
            with self._lock:
                if len(self._sms) > 4096:  # published revisions are few; bound it anyway
                    self._sms.clear()
                self._sms[key] = cached
        # Field by field: dataclasses.replace looks the fields up again for every message.
        return Message(
            cached.body,
            cached.subject,
            cached.html,
            cached.language,
            reference,
            cached.headers,
            cached.expires,
        )

    def email(
        self,
        snapshot: NoticeSnapshot,
        recipient: Recipient,
        subscriber_id: int,
        reference: str,
        manage_version: int = 1,
    ) -> Message:
        key = (snapshot.notice_id, snapshot.revision, recipient.language, snapshot.exercise)
        template = self._email.get(key)
        if template is None:
            template = email_template(
                for_sending(snapshot),
                recipient.language,
                list_id=f"{snapshot.sender_name} <notices.{self.links.host}>",
                message_id_domain=self.links.host,
            )
            with self._lock:
                # A rendered email is some 10-20 KB; a worker sends a handful of revisions.
                if len(self._email) > 256:
                    self._email.clear()
                self._email[key] = template
        unsubscribe = recipient.unsubscribe_url or self.links.unsubscribe_url(
            subscriber_id, "email"
        )
        return template.fill(
            address=recipient.address,
            reference=reference,
            manage_url=self.links.manage_url(subscriber_id, manage_version),
            unsubscribe_url=unsubscribe,
            one_click_url=unsubscribe,
        )

    def compose(
        self,
        snapshot: NoticeSnapshot,
        channel: str,
        *,
        address: str,
        language: str,
        subscriber_id: int,
        reference: str,
        manage_version: int = 1,
    ) -> tuple[Recipient, Message]:
        """The recipient and message of one delivery attempt."""
        if channel == "sms":
            recipient = Recipient(address=address, language=language)
            return recipient, self.sms(snapshot, language, reference)
        recipient = Recipient(
            address=address,
            language=language,
            unsubscribe_url=self.links.unsubscribe_url(subscriber_id, channel),
        )
        return recipient, self.email(snapshot, recipient, subscriber_id, reference, manage_version)


def sms_preview(snapshot: NoticeSnapshot, base_url: str) -> dict[str, Mapping[str, Any]]:
    """Per language: the SMS text residents would read, its encoding and number of parts."""
    composer = Composer(Links(base_url, "preview"))
    preview: dict[str, Mapping[str, Any]] = {}
    for language in snapshot.languages():
        message = composer.sms(snapshot, language, "preview")
        info = sms_info(message.body)
        preview[language] = {
            "body": message.body,
            "encoding": info.encoding,
            "segments": info.segments,
            "length_units": info.length_units,
            "characters": len(message.body),
        }
    return preview
