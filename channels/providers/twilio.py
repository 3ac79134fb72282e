"""SMS through Twilio, and everything the product knows about Twilio's codes.

:class:`TwilioSms` sends a composed message (see :mod:`channels.compose.sms`)
with ``twilio.rest.Client``; ``api_base_url`` points the SDK at another host
(a local fake in tests). Twilio's error codes become
:class:`~channels.base.Outcome` values through one plain dict,
:data:`TWILIO_ERROR_OUTCOMES`; this is the only module that knows Twilio's
numbers. The application's webhooks use what is below for receipts
(:func:`map_status_callback`, :func:`receipt_error_outcome`,
:func:`is_opt_out_error`, :data:`TRANSIENT_RECEIPT_ERROR_CODES`) and for
inbound SMS (:func:`inbound_keyword`, :func:`twiml_reply`,
:func:`is_valid_signature`).
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, quote_plus, urlencode, urlsplit, urlunsplit

import aiohttp
import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from channels.base import DeliveryResult, Message, Outcome, PushChannel, Recipient

logger = logging.getLogger(__name__)

#: Twilio accepts ValidityPeriod from 1 to 36000 seconds.
VALIDITY_MIN_S = 1
VALIDITY_MAX_S = 36000

#: Twilio refuses a longer body (error 21617).
BODY_MAX_CHARS = 1600

#: "Unsubscribed recipient": the resident texted STOP to our sender, so Twilio
#: refuses to send to them (as an API error or in a receipt).
TWILIO_OPT_OUT_CODE = 21610

#: Errors a delivery receipt ("undelivered"/"failed") may carry that are worth
#: another try: the handset or the network, not the number.
TRANSIENT_RECEIPT_CODES = frozenset({30001, 30003, 30008, 30017})
#: The same as receipts carry them (``ErrorCode`` is text, and so is our error_code column).
TRANSIENT_RECEIPT_ERROR_CODES = frozenset(str(code) for code in TRANSIENT_RECEIPT_CODES)

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
    TWILIO_OPT_OUT_CODE: Outcome.OPTED_OUT,
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


def _as_code(code: int | str | None) -> int | None:
    try:
        return int(str(code).strip()) if code is not None and str(code).strip() else None
    except ValueError:
        return None


def is_opt_out_error(code: int | str | None) -> bool:
    """Whether a Twilio error code (number or text) says the recipient opted out (21610)."""
    return _as_code(code) == TWILIO_OPT_OUT_CODE


def is_transient_receipt_error(code: int | str | None) -> bool:
    """Whether a receipt's error code is worth another try (the handset was off, congestion)."""
    return _as_code(code) in TRANSIENT_RECEIPT_CODES


def receipt_error_outcome(code: int | str | None) -> Outcome:
    """What an "undelivered"/"failed" receipt with this ``ErrorCode`` means for the delivery.

    OPTED_OUT for 21610, RETRY for :data:`TRANSIENT_RECEIPT_CODES`, FAILED for
    anything else (the message did not arrive and would not on a second try).
    """
    if is_opt_out_error(code):
        return Outcome.OPTED_OUT
    if is_transient_receipt_error(code):
        return Outcome.RETRY
    return Outcome.FAILED


def map_status_callback(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
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


#: Inbound keywords, upper case: the one list both the webhook and every reply text use.
#: Twilio's own opt-out, opt-in and help words (it acts on them itself for long codes,
#: answering 21610 afterwards), plus the Swedish ones residents use, with and without
#: the Swedish letters (not every phone types them).
INBOUND_KEYWORDS: dict[str, frozenset[str]] = {
    "stop": frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
        | {"STOPP", "STOPPA", "SLUTA", "AVSLUTA", "AVREGISTRERA"}
    ),
    "start": frozenset({"START", "UNSTOP", "YES"} | {"STARTA", "BÖRJA", "BORJA"}),
    "help": frozenset({"HELP", "INFO"} | {"HJÄLP", "HJALP"}),
}
OPT_OUT_KEYWORDS = INBOUND_KEYWORDS["stop"]
OPT_IN_KEYWORDS = INBOUND_KEYWORDS["start"]
HELP_KEYWORDS = INBOUND_KEYWORDS["help"]

#: The word a reply in each language asks residents to send for each action.
REPLY_WORDS: dict[str, dict[str, str]] = {
    "sv": {"stop": "STOPP", "start": "START", "help": "HJÄLP"},
    "en": {"stop": "STOP", "start": "START", "help": "HELP"},
}
for _words in REPLY_WORDS.values():
    for _kind, _word in _words.items():
        assert _word in INBOUND_KEYWORDS[_kind], (_kind, _word)  # replies name accepted words


def reply_words(language: str) -> dict[str, str]:
    """``{"stop": "STOPP", "start": "START", "help": "HJÄLP"}`` for a reply in ``language``."""
    return REPLY_WORDS.get(language, REPLY_WORDS["sv"])


def inbound_keyword(body: str | None) -> str | None:
    """``"stop"``, ``"start"``, ``"help"`` or None for an inbound SMS ``Body``.

    The first word decides, whatever its case, the whitespace around it and
    the punctuation in or around it ("Stopp!", " stopp. ", "S.T.O.P.P").
    """
    cleaned = "".join(ch if ch.isalpha() or ch.isspace() else "" for ch in (body or ""))
    words = cleaned.upper().split()
    keyword = words[0] if words else ""
    for kind, accepted in INBOUND_KEYWORDS.items():
        if keyword in accepted:
            return kind
    return None


def twiml_reply(text: str | None) -> str:
    """The TwiML answer to an inbound SMS: ``text`` as a reply, or no reply for None/""."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response.to_xml(xml_declaration=True))


def is_valid_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether ``X-Twilio-Signature`` is Twilio's, for the public ``url`` Twilio called."""
    if not (auth_token and signature):
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def _parse_base(api_base_url: str | None) -> tuple[str | None, SplitResult | None]:
    """(``api_base_url`` without a trailing slash, its parts); raises ValueError when bad."""
    if not api_base_url:
        return None, None
    base = api_base_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"api_base_url must be http(s)://host[:port], got {api_base_url!r}")
    return base, parts


# Cached: every message is sent to the same URL, and splitting and joining it again was a
# fiftieth of a sending worker's CPU.
@functools.lru_cache(maxsize=256)
def _rebased(base: SplitResult | None, url: str) -> str:
    """``url`` with scheme and host of ``base`` when it is a Twilio API URL and a base is set."""
    if base is None:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == "twilio.com" or host.endswith(".twilio.com"):
        base_path = base.path.rstrip("/")
        return urlunsplit(
            (base.scheme, base.netloc, base_path + parts.path, parts.query, parts.fragment)
        )
    return url


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
        self.api_base_url, self._base = _parse_base(api_base_url)
        size = pool_maxsize or min(32, (os.cpu_count() or 1) + 4)
        if self.session is not None:
            self.session.mount("http://", HTTPAdapter(pool_maxsize=size))
            self.session.mount("https://", HTTPAdapter(pool_maxsize=size))
            self.session.trust_env = False if self.api_base_url else self.session.trust_env
        self._local = threading.local()

    def rebase(self, url: str) -> str:
        """``url`` with scheme and host replaced when it is a Twilio API URL and a base is set."""
        return _rebased(self._base, url)

    def request(
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
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


#: Headers of the last response in this asyncio task (Retry-After after the SDK raised).
_last_async_headers: ContextVar[dict[str, str] | None] = ContextVar(
    "twilio_last_async_headers", default=None
)


@functools.lru_cache(maxsize=8)
def _basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` header of HTTP basic auth (what aiohttp's deprecated BasicAuth did)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


#: ``quote_plus`` remembering its last answers, for the form body of a request: a revision's
#: text is the same for every recipient, and quoting it byte by byte for each of them was
#: a tenth of the sending thread's time (bench/dispatch.py, four workers, a provider
#: answering at once). The recipient's number and receipt URL pass through and age out.
_quote_form_value = functools.lru_cache(maxsize=256)(quote_plus)


def form_encoded(data: Mapping[str, Any]) -> bytes:
    """``data`` as an ``application/x-www-form-urlencoded`` body, exactly as
    ``urlencode(data, doseq=True)`` writes it."""
    return urlencode(data, doseq=True, quote_via=_quote_form_value).encode("utf-8")


@functools.lru_cache(maxsize=8)
def _timeout(seconds: float | None) -> aiohttp.ClientTimeout:
    """As requests does it for the synchronous client: a limit on connecting and on each
    wait for the answer, not on the whole exchange (nor on a free connection)."""
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


class RebasedAsyncTwilioHttpClient(AsyncTwilioHttpClient):
    """The SDK's asyncio HTTP client (aiohttp), optionally sending to another host.

    As :class:`RebasedTwilioHttpClient`, for ``messages.create_async``: one
    aiohttp session with at most ``pool_maxsize`` keep-alive connections, made
    on the running event loop at the first request (an aiohttp session belongs
    to one loop). The last response's headers are kept per asyncio task.
    """

    def __init__(
        self,
        api_base_url: str | None = None,
        *,
        timeout: float | None = None,
        pool_maxsize: int = 100,
    ):
        super().__init__(pool_connections=False, timeout=timeout)
        self.api_base_url, self._base = _parse_base(api_base_url)
        self.pool_maxsize = pool_maxsize
        self._session: aiohttp.ClientSession | None = None

    def rebase(self, url: str) -> str:
        return _rebased(self._base, url)

    async def request(
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_maxsize),
                # A local fake must not go through a proxy from the environment.
                trust_env=not self.api_base_url,
            )
        _last_async_headers.set({})
        total = timeout if timeout is not None else self.timeout
        if auth:
            headers = {**(headers or {}), "Authorization": _basic_auth(auth[0], auth[1])}
        if isinstance(data, dict):
            # The form encoded here, as aiohttp's FormData would: FormData also set up a
            # multipart writer (a random boundary from os.urandom) for every request, a
            # sixth of a sending worker's CPU.
            data = form_encoded(data)
            headers = {**(headers or {}), "Content-Type": "application/x-www-form-urlencoded"}
        async with self._session.request(
            method.upper(),
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            timeout=_timeout(total),
            allow_redirects=allow_redirects,
        ) as answer:
            text = await answer.text()
            response_headers = dict(answer.headers)
        _last_async_headers.set(response_headers)
        return Response(answer.status, text, response_headers)

    @property
    def last_headers(self) -> dict[str, str]:
        """Headers of the last response this asyncio task received (empty when none)."""
        return _last_async_headers.get() or {}

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class TwilioSms(PushChannel):
    """Sends SMS with Twilio's Messages API through the real SDK.

    Give ``from_number`` (E.164 number, short code or an alphanumeric sender
    ID such as "MotalaKommun") and/or ``messaging_service_sid``. The status
    callback URL gets ``ref=<message.reference>`` appended so a receipt can be
    matched even if it arrives before the SID is stored. Safe to share across
    threads (one pooled HTTP session). :meth:`send_async` sends through the
    SDK's asyncio client (``messages.create_async``) on the running event loop,
    with at most ``pool_maxsize`` connections; use one instance per loop.
    """

    name = "sms"
    body_maxlen = BODY_MAX_CHARS

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
        pool_maxsize: int = 100,
    ):
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioSms needs from_number or messaging_service_sid")
        if not (account_sid and auth_token):
            raise ValueError("TwilioSms needs account_sid and auth_token")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_url = status_callback_url
        sep = "&" if status_callback_url and "?" in status_callback_url else "?"
        self._callback_prefix = f"{status_callback_url}{sep}ref="
        self.timeout_s = timeout_s
        self.http_client = RebasedTwilioHttpClient(api_base_url, timeout=timeout_s)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)
        self.async_http_client = RebasedAsyncTwilioHttpClient(
            api_base_url, timeout=timeout_s, pool_maxsize=pool_maxsize
        )
        self.async_client = Client(account_sid, auth_token, http_client=self.async_http_client)

    def _callback_url(self, reference: str) -> str | None:
        if not self.status_callback_url:
            return None
        if not reference:
            return self.status_callback_url
        return self._callback_prefix + quote_plus(reference)

    def validity_period_s(self, message: Message, *, now: datetime | None = None) -> int | None:
        """Seconds Twilio may keep the message queued (1..36000), None when it never expires,
        0 when it has already expired."""
        if message.expires is None:
            return None
        remaining = (message.expires - (now or datetime.now(UTC))).total_seconds()
        if remaining <= 0:
            return 0
        return max(VALIDITY_MIN_S, min(VALIDITY_MAX_S, int(remaining)))

    def _create_kwargs(
        self, recipient: Recipient, message: Message, validity: int | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"to": recipient.address, "body": message.body}
        if self.from_number:
            kwargs["from_"] = self.from_number
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        callback = self._callback_url(message.reference)
        if callback:
            kwargs["status_callback"] = callback
        if validity is not None:
            kwargs["validity_period"] = validity
        return kwargs

    def _expired(self, message: Message, validity: int | None) -> DeliveryResult | None:
        if validity == 0 and message.expires is not None:
            return DeliveryResult(
                Outcome.FAILED,
                error_code="expired",
                error=f"notice expired at {message.expires.isoformat()}",
            )
        return None

    def try_send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        validity = self.validity_period_s(message)
        expired = self._expired(message, validity)
        if expired is not None:
            return expired
        try:
            created = self.client.messages.create(
                **self._create_kwargs(recipient, message, validity)
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            return self._error_result(exc, self.http_client.last_headers)
        except requests.Timeout as exc:
            return DeliveryResult(Outcome.RETRY, error_code="timeout", error=str(exc))
        except requests.RequestException as exc:
            return DeliveryResult(Outcome.RETRY, error_code="connection", error=str(exc))
        except TwilioException as exc:
            return DeliveryResult(Outcome.RETRY, error_code="twilio", error=str(exc))
        return DeliveryResult(Outcome.ACCEPTED, provider_ref=created.sid)

    async def try_send_async(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """:meth:`try_send` with ``messages.create_async``: same request, same outcomes."""
        validity = self.validity_period_s(message)
        expired = self._expired(message, validity)
        if expired is not None:
            return expired
        messages = self.async_client.messages
        try:
            created = await messages.create_async(
                **self._create_kwargs(recipient, message, validity)
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            return self._error_result(exc, self.async_http_client.last_headers)
        except TimeoutError as exc:  # aiohttp's total timeout
            return DeliveryResult(
                Outcome.RETRY, error_code="timeout", error=str(exc) or "timed out"
            )
        except aiohttp.ClientError as exc:
            return DeliveryResult(Outcome.RETRY, error_code="connection", error=str(exc))
        except TwilioException as exc:
            return DeliveryResult(Outcome.RETRY, error_code="twilio", error=str(exc))
        return DeliveryResult(Outcome.ACCEPTED, provider_ref=created.sid)

    def _error_result(
        self, exc: TwilioRestException | TwilioServiceException, last_headers: Mapping[str, str]
    ) -> DeliveryResult:
        http_status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        outcome = outcome_for_error(http_status, code)
        retry_after = None
        if outcome is Outcome.RETRY:
            headers = {k.lower(): v for k, v in last_headers.items()}
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

    async def close_async(self) -> None:
        """Close the pooled connections of both clients (on the loop that sent)."""
        self.close()
        await self.async_http_client.close()
