"""SMS through Twilio: composing the text a resident reads, and sending it with the real SDK.

``compose_sms`` builds a short text (prefix, headline, instruction, as much of
the description as fits, the link) that stays GSM-7 where it can and within
:data:`MAX_SEGMENTS` parts. ``TwilioSms`` sends it with ``twilio.rest.Client``;
``api_base_url`` points the SDK at another host (a local fake in tests).
Twilio's answers become :class:`~channels.base.Outcome` values through one
plain dict, :data:`TWILIO_ERROR_OUTCOMES`.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.base import DeliveryResult, Message, NoticeSnapshot, Outcome, PushChannel, Recipient
from channels.gsm import max_units, sms_info, to_gsm7_if_possible

logger = logging.getLogger(__name__)

#: The most SMS parts one notice may take (3 × 153 GSM-7 characters, 3 × 67 UCS-2).
MAX_SEGMENTS = 3

PREFIXES = {
    "sv": {"Update": "UPPDATERING: ", "Cancel": "AVBLÅST: "},
    "en": {"Update": "UPDATE: ", "Cancel": "ALL CLEAR: "},
}

#: Twilio accepts ValidityPeriod from 1 to 36000 seconds.
VALIDITY_MIN_S = 1
VALIDITY_MAX_S = 36000

#: Twilio error code -> what the dispatcher does. Codes not listed fall back on
#: the HTTP status: 429 and 5xx retry, other 4xx fail.
TWILIO_ERROR_OUTCOMES: dict[int, Outcome] = {
    # transient: try again later
    20429: Outcome.RETRY,  # too many requests
    20500: Outcome.RETRY,  # internal server error
    20503: Outcome.RETRY,  # service unavailable
    30001: Outcome.RETRY,  # queue overflow
    30003: Outcome.RETRY,  # unreachable destination handset (switched off)
    30008: Outcome.RETRY,  # unknown error
    30017: Outcome.RETRY,  # carrier network congestion
    # our configuration, not the resident: keep the message, fix the config,
    # and let the dispatcher's attempt limit end it if nobody does
    20003: Outcome.RETRY,  # authentication failed (wrong SID / token)
    20005: Outcome.RETRY,  # account not active
    21212: Outcome.RETRY,  # invalid From number
    21606: Outcome.RETRY,  # From number is not a valid SMS-capable number
    30002: Outcome.RETRY,  # account suspended
    # permanent for this recipient and message
    21211: Outcome.FAILED,  # invalid To number
    21214: Outcome.FAILED,  # To number cannot be reached
    21217: Outcome.FAILED,  # phone number does not appear to be valid
    21401: Outcome.FAILED,  # invalid phone number
    21407: Outcome.FAILED,  # country not supported
    21408: Outcome.FAILED,  # permission to send to this region not enabled
    21602: Outcome.FAILED,  # message body required
    21612: Outcome.FAILED,  # cannot route to this number
    21614: Outcome.FAILED,  # To is not a mobile number
    21617: Outcome.FAILED,  # body exceeds 1600 characters
    21635: Outcome.FAILED,  # To number cannot receive SMS
    30004: Outcome.FAILED,  # message blocked
    30005: Outcome.FAILED,  # unknown destination handset
    30006: Outcome.FAILED,  # landline or unreachable carrier
    30007: Outcome.FAILED,  # carrier violation / filtered
    30034: Outcome.FAILED,  # unregistered number (A2P 10DLC)
    # the resident texted STOP to our sender
    21610: Outcome.OPTED_OUT,
}

#: Twilio MessageStatus -> our delivery status.
TWILIO_STATUS_MAP = {
    "accepted": "accepted",
    "scheduled": "accepted",
    "queued": "accepted",
    "sending": "sent",
    "sent": "sent",
    "partially_delivered": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def _effective_language(snapshot: NoticeSnapshot, language: str) -> str:
    for candidate in (language, "sv", *snapshot.texts):
        if candidate in snapshot.texts:
            return candidate
    raise LookupError("notice has no texts")


def message_kind(snapshot: NoticeSnapshot) -> str:
    """ "Cancel" for an all-clear, "Update" for an update, "Alert" otherwise."""
    if snapshot.msg_type == "Cancel" or snapshot.status == "cancelled":
        return "Cancel"
    if snapshot.msg_type == "Update":
        return "Update"
    return "Alert"


def prefix_for(snapshot: NoticeSnapshot, language: str) -> str:
    """The subject/SMS prefix ("UPPDATERING: ", "ALL CLEAR: ", or "") in ``language``."""
    return PREFIXES.get(language, PREFIXES["sv"]).get(message_kind(snapshot), "")


def _clean(text: str) -> str:
    """One line per paragraph, no trailing blanks: SMS has no room for layout."""
    return " ".join(text.split())


def _fits(text: str, segments: int) -> bool:
    return sms_info(to_gsm7_if_possible(text)).segments <= segments


def _truncate_to_fit(build, text: str, segments: int) -> str | None:
    """Longest word-boundary prefix of ``text`` (with "...") for which ``build(prefix)`` fits.

    Returns None when not even one word fits.
    """
    words = text.split(" ")
    lo, hi = 0, len(words) - 1  # number of words kept, the whole text has already failed
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if mid == 0:
            lo = 1
            continue
        candidate = " ".join(words[:mid]).rstrip(" ,.;:-") + "..."
        if _fits(build(candidate), segments):
            best = candidate
            lo = mid + 1
        else:
            hi = mid - 1
    return best


def compose_sms(
    snapshot: NoticeSnapshot,
    language: str,
    *,
    link: str,
    reference: str,
    max_segments: int = MAX_SEGMENTS,
) -> Message:
    """The SMS a subscriber reads, in their language (falling back to Swedish).

    Layout: ``[PREFIX: ]headline`` / instruction / description / link, one per
    line. Typography is straightened to GSM-7 when that makes the whole text
    GSM-7. When the text would take more than ``max_segments`` parts the
    description is shortened first, then dropped, then the instruction, then
    the headline; the link is never cut.
    """
    lang = _effective_language(snapshot, language)
    wording = snapshot.text(lang)
    headline = prefix_for(snapshot, lang) + _clean(wording.headline)
    instruction = _clean(wording.instruction)
    description = _clean(wording.description)
    link = link.strip()

    def assemble(head: str, instr: str, desc: str) -> str:
        return "\n".join(part for part in (head, instr, desc, link) if part)

    body = assemble(headline, instruction, description)
    if not _fits(body, max_segments):
        body = None
        if description:
            cut = _truncate_to_fit(
                lambda d: assemble(headline, instruction, d), description, max_segments
            )
            if cut is not None:
                body = assemble(headline, instruction, cut)
        if body is None and _fits(assemble(headline, instruction, ""), max_segments):
            body = assemble(headline, instruction, "")
        if body is None and instruction:
            cut = _truncate_to_fit(lambda i: assemble(headline, i, ""), instruction, max_segments)
            if cut is not None:
                body = assemble(headline, cut, "")
        if body is None:
            cut = _truncate_to_fit(lambda h: assemble(h, "", ""), headline, max_segments)
            body = assemble(cut or "", "", "")
            if not _fits(body, max_segments):  # a link longer than the budget: send it anyway
                logger.warning("sms %s: link alone exceeds %d parts", reference, max_segments)
    body = to_gsm7_if_possible(body)
    info = sms_info(body)
    if info.length_units > max_units(info.encoding, max_segments):
        logger.warning("sms %s: %d parts", reference, info.segments)
    return Message(body=body, language=lang, reference=reference, expires=snapshot.expires)


def map_status_callback(params) -> tuple[str | None, str | None]:
    """(our delivery status, Twilio error code) from a status callback's form parameters.

    Our statuses are accepted, sent, delivered, undelivered, failed. A status
    Twilio may add later maps to None (log it, change nothing).
    """
    raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    status = TWILIO_STATUS_MAP.get(raw)
    if status is None:
        logger.warning("twilio status callback with unknown status %r", raw)
    error_code = params.get("ErrorCode") or None
    return status, (str(error_code) if error_code else None)


def outcome_for_error(http_status: int | None, code: int | None) -> Outcome:
    """What to do about a Twilio error: by its code when we know it, else by HTTP status."""
    if code is not None and code in TWILIO_ERROR_OUTCOMES:
        return TWILIO_ERROR_OUTCOMES[code]
    if http_status is None or http_status == 429 or http_status >= 500:
        return Outcome.RETRY
    return Outcome.FAILED


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RebasedTwilioHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, optionally sending to another host, remembering headers.

    With ``api_base_url`` (e.g. ``http://127.0.0.1:8088``) every request for
    ``https://*.twilio.com/...`` goes to that scheme and host instead, path and
    query unchanged. The last response's headers are kept per thread so a
    caller can read ``Retry-After`` after the SDK raised.
    """

    def __init__(
        self,
        api_base_url: str | None = None,
        *,
        timeout: float | None = None,
        pool_maxsize: int | None = None,
    ):
        super().__init__(timeout=timeout)
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        if self.api_base_url:
            parts = urlsplit(self.api_base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"api_base_url must be http(s)://host[:port], got {api_base_url!r}"
                )
            self._base = parts
        size = pool_maxsize or min(32, (os.cpu_count() or 1) + 4)
        if self.session is not None:
            self.session.mount("http://", HTTPAdapter(pool_maxsize=size))
            self.session.mount("https://", HTTPAdapter(pool_maxsize=size))
            self.session.trust_env = False if self.api_base_url else self.session.trust_env
        self._local = threading.local()

    def rebase(self, url: str) -> str:
        """``url`` with scheme and host replaced when it is a Twilio API URL and a base is set."""
        if not self.api_base_url:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            base_path = self._base.path.rstrip("/")
            return urlunsplit(
                (
                    self._base.scheme,
                    self._base.netloc,
                    base_path + parts.path,
                    parts.query,
                    parts.fragment,
                )
            )
        return url

    def request(
        self,
        method,
        url,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ) -> Response:
        self._local.headers = {}
        response = super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        self._local.headers = dict(response.headers or {})
        return response

    @property
    def last_headers(self) -> dict[str, str]:
        """Headers of the last response this thread received (empty when none)."""
        return getattr(self._local, "headers", {}) or {}


class TwilioSms(PushChannel):
    """Sends SMS with Twilio's Messages API through the real SDK.

    Give ``from_number`` (E.164 number, short code or an alphanumeric sender
    ID such as "MotalaKommun") and/or ``messaging_service_sid``. The status
    callback URL gets ``ref=<message.reference>`` appended so a receipt can be
    matched even if it arrives before the SID is stored. Safe to share across
    threads (one pooled HTTP session).
    """

    name = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_url: str | None = None,
        api_base_url: str | None = None,
        timeout_s: float = 10,
    ):
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioSms needs from_number or messaging_service_sid")
        if not (account_sid and auth_token):
            raise ValueError("TwilioSms needs account_sid and auth_token")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_url = status_callback_url
        self.timeout_s = timeout_s
        self.http_client = RebasedTwilioHttpClient(api_base_url, timeout=timeout_s)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)

    def _callback_url(self, reference: str) -> str | None:
        if not self.status_callback_url:
            return None
        if not reference:
            return self.status_callback_url
        sep = "&" if "?" in self.status_callback_url else "?"
        return f"{self.status_callback_url}{sep}{urlencode({'ref': reference})}"

    def validity_period_s(self, message: Message, *, now: datetime | None = None) -> int | None:
        """Seconds Twilio may keep the message queued (1..36000), None when it never expires,
        0 when it has already expired."""
        if message.expires is None:
            return None
        remaining = (message.expires - (now or datetime.now(UTC))).total_seconds()
        if remaining <= 0:
            return 0
        return max(VALIDITY_MIN_S, min(VALIDITY_MAX_S, int(remaining)))

    def try_send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        validity = self.validity_period_s(message)
        if validity == 0:
            return DeliveryResult(
                Outcome.FAILED,
                error_code="expired",
                error=f"notice expired at {message.expires.isoformat()}",
            )
        kwargs = {"to": recipient.address, "body": message.body}
        if self.from_number:
            kwargs["from_"] = self.from_number
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        callback = self._callback_url(message.reference)
        if callback:
            kwargs["status_callback"] = callback
        if validity is not None:
            kwargs["validity_period"] = validity
        try:
            created = self.client.messages.create(**kwargs)
        except (TwilioRestException, TwilioServiceException) as exc:
            return self._error_result(exc)
        except requests.Timeout as exc:
            return DeliveryResult(Outcome.RETRY, error_code="timeout", error=str(exc))
        except requests.RequestException as exc:
            return DeliveryResult(Outcome.RETRY, error_code="connection", error=str(exc))
        except TwilioException as exc:
            return DeliveryResult(Outcome.RETRY, error_code="twilio", error=str(exc))
        return DeliveryResult(Outcome.ACCEPTED, provider_ref=created.sid)

    def _error_result(self, exc: TwilioRestException | TwilioServiceException) -> DeliveryResult:
        http_status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        outcome = outcome_for_error(http_status, code)
        retry_after = None
        if outcome is Outcome.RETRY:
            headers = {k.lower(): v for k, v in self.http_client.last_headers.items()}
            retry_after = parse_retry_after(headers.get("retry-after"))
        message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or str(exc)
        logger.info("twilio error %s (HTTP %s): %s -> %s", code, http_status, message, outcome)
        return DeliveryResult(
            outcome,
            error_code=str(code if code is not None else http_status),
            error=message,
            retry_after_s=retry_after,
        )

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        if self.http_client.session is not None:
            self.http_client.session.close()
