"""A local HTTP server that answers like Twilio's Messages API (REST API 2010-04-01).

Only what Varsla uses: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``
(form-encoded To, From, MessagingServiceSid, Body, StatusCallback,
ValidityPeriod; HTTP basic auth with the account SID and auth token) and
``GET .../Messages/{Sid}.json``. Answers 201 with the message resource, or
Twilio's error JSON ``{"code", "message", "more_info", "status"}``.

Faults are scripted per destination number (``faults={"+46700000001": "21211"}``):
"21211", "21610", "21614", any other Twilio code -> 400 with that code;
"429" -> 429 code 20429 with Retry-After; "500" -> 500 code 20500; "503";
"timeout" -> answers only after ``timeout_sleep_s`` (past a client's timeout).

Use as a context manager, or standalone for benchmarks::

    python -m tests.fakes.twilio_server --port 8088 --latency-ms 100
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)

TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"

_MESSAGES_RE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE_RE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")

# Twilio's wording for the codes we script.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number: {to}",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the "
    "'To' number: {to}",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}


@dataclass
class RecordedMessage:
    """One message the fake accepted, as Twilio would have stored it."""

    sid: str
    to: str
    from_: str | None
    body: str
    params: dict[str, str]
    status_callback: str | None
    validity_period: str | None
    messaging_service_sid: str | None
    account_sid: str
    created: float = field(default_factory=time.time)


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _Answer(Exception):
    """An HTTP answer: status, JSON payload, extra headers."""

    def __init__(self, status: int, payload: dict, headers: dict[str, str] | None = None):
        self.status, self.payload, self.headers = status, payload, headers or {}
        self.close = False  # close the connection after answering


def _error(status: int, code: int, headers: dict[str, str] | None = None, **fmt) -> _Answer:
    message = ERROR_MESSAGES.get(code, "Error {code}").format(code=code, **fmt)
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return _Answer(status, payload, headers)


_UNAUTHORISED = {"WWW-Authenticate": 'Basic realm="Twilio API"'}


class FakeTwilio:
    """The fake Twilio API: start it, point ``TwilioSms(api_base_url=fake.url)`` at it.

    ``faults`` maps a destination number to a fault (see the module doc);
    ``latency_s`` delays every authorised POST; ``messages`` lists what was
    accepted (thread-safe snapshot); ``max_in_flight`` is the most requests it
    was answering at once (a client's concurrency, seen from the server).

    One asyncio event loop in a thread serves HTTP/1.1 with keep-alive, so a
    provider latency costs no thread and thousands of requests a second cost
    one core at most: the fake is not what a benchmark measures.
    ``record=False`` (benchmarks) keeps only :attr:`accepted`, not the messages.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_sid: str = TEST_ACCOUNT_SID,
        auth_token: str = TEST_AUTH_TOKEN,
        faults: dict[str, str] | None = None,
        latency_s: float = 0.0,
        timeout_sleep_s: float = 5.0,
        retry_after_s: int = 7,
        record: bool = True,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.faults: dict[str, str] = dict(faults or {})
        self.latency_s = latency_s
        self.timeout_sleep_s = timeout_sleep_s
        self.retry_after_s = retry_after_s
        self.record = record
        self.accepted = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._messages: list[RecordedMessage] = []
        self._by_sid: dict[str, RecordedMessage] = {}
        self._stopping = threading.Event()
        self._auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._loop = asyncio.new_event_loop()
        self._socket = socket.create_server((host, port), backlog=1024)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        """Base URL to give the SDK instead of https://api.twilio.com."""
        return f"http://{self._socket.getsockname()[0]}:{self.port}"

    def start(self) -> FakeTwilio:
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)

            async def listen() -> None:
                self._server = await asyncio.start_server(
                    self._serve_connection, sock=self._socket, limit=256 * 1024
                )
                started.set()

            self._loop.run_until_complete(listen())
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-twilio", daemon=True)
        self._thread.start()
        started.wait(5)
        return self

    def stop(self) -> None:
        self._stopping.set()

        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._socket.close()
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """One keep-alive connection: requests one after the other, as HTTP/1.1 has them."""
        self._writers.add(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, _, rest = lines[0].partition(" ")
                target = rest.rpartition(" ")[0]
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        key, _, value = line.partition(":")
                        headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                close = headers.get("connection", "").lower() == "close"
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    answer = await self._answer(method, target, headers, body)
                except _Answer as raised:
                    answer = raised
                finally:
                    self.in_flight -= 1
                close = close or answer.close
                data = json.dumps(answer.payload).encode("utf-8")
                extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
                writer.write(
                    (
                        f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Error')}\r\n"
                        "Content-Type: application/json; charset=utf-8\r\n"
                        f"Content-Length: {len(data)}\r\n"
                        f"Twilio-Request-Id: RQ{secrets.token_hex(16)}\r\n"
                        f"{extra}"
                        f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
                    ).encode("latin-1")
                    + data
                )
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        except Exception:
            logger.debug("twilio fake: error serving a connection", exc_info=True)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> _Answer:
        path = target.split("?", 1)[0]
        if method == "GET":
            match = _MESSAGE_RE.match(path)
            if not match:
                raise _error(404, 20404)
            self._check_auth(headers, match["account"])
            message = self.get(match["sid"])
            if message is None:
                raise _error(404, 20404)
            return _Answer(200, self.resource(message))
        if method != "POST":
            raise _error(404, 20404)
        raw = body.decode("utf-8")
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        match = _MESSAGES_RE.match(path)
        if not match:
            raise _error(404, 20404)
        self._check_auth(headers, match["account"])
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        to = form.get("To", "")
        if not to:
            raise _error(400, 21604)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            raise _error(400, 21603)
        if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
            raise _error(400, 21602)
        if len(form.get("Body", "")) > 1600:
            raise _error(400, 21617)
        fault = self.faults.get(to)
        if fault is not None:
            return await self._fault(fault, to)
        message = self._record(match["account"], form)
        return _Answer(201, self.resource(message))

    def _check_auth(self, headers: dict[str, str], account: str) -> None:
        header = headers.get("authorization", "")
        if header == self._auth and account == self.account_sid:
            return
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise _error(401, 20003, _UNAUTHORISED) from None
            if (
                secrets.compare_digest(user, self.account_sid)
                and secrets.compare_digest(password, self.auth_token)
                and account == self.account_sid
            ):
                return
        raise _error(401, 20003, _UNAUTHORISED)

    async def _fault(self, fault: str, to: str) -> _Answer:
        if fault == "timeout":
            await asyncio.sleep(self.timeout_sleep_s)
            answer = _error(503, 20503)
            answer.close = True
            return answer
        if fault == "429":
            return _error(429, 20429, {"Retry-After": str(self.retry_after_s)})
        if fault == "500":
            return _error(500, 20500)
        if fault == "503":
            return _error(503, 20503)
        if fault.isdigit():
            return _error(400, int(fault), to=to)
        raise ValueError(f"unknown fault {fault!r}")

    # -- records ---------------------------------------------------------------------

    def _record(self, account: str, form: dict[str, str]) -> RecordedMessage:
        message = RecordedMessage(
            sid="SM" + secrets.token_hex(16),
            to=form["To"],
            from_=form.get("From"),
            body=form.get("Body", ""),
            params=dict(form),
            status_callback=form.get("StatusCallback"),
            validity_period=form.get("ValidityPeriod"),
            messaging_service_sid=form.get("MessagingServiceSid"),
            account_sid=account,
        )
        with self._lock:
            self.accepted += 1
            if self.record:
                self._messages.append(message)
                self._by_sid[message.sid] = message
        return message

    @property
    def messages(self) -> list[RecordedMessage]:
        with self._lock:
            return list(self._messages)

    def get(self, sid: str) -> RecordedMessage | None:
        with self._lock:
            return self._by_sid.get(sid)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._by_sid.clear()

    def resource(self, message: RecordedMessage, status: str = "queued") -> dict:
        """The Message resource JSON as Twilio answers it."""
        date = formatdate(message.created, usegmt=False).replace("-0000", "+0000")
        uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}"
        return {
            "account_sid": message.account_sid,
            "api_version": "2010-04-01",
            "body": message.body,
            "date_created": date,
            "date_sent": None,
            "date_updated": date,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": message.messaging_service_sid,
            "num_media": "0",
            "num_segments": "0" if message.messaging_service_sid else "1",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": message.to,
            "uri": f"{uri}.json",
        }

    # -- status callbacks ------------------------------------------------------------

    def callback_params(
        self, sid: str, status: str, error_code: str | int | None = None
    ) -> dict[str, str]:
        """The form Twilio POSTs to a message's StatusCallback URL."""
        message = self.get(sid)
        if message is None:
            raise KeyError(sid)
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_ or "",
            "MessageSid": message.sid,
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def sign(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature for a POST of ``params`` to ``url`` (HMAC-SHA1, auth token)."""
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def send_status_callback(
        self,
        sid: str,
        status: str,
        error_code: str | int | None = None,
        *,
        url: str | None = None,
        timeout_s: float = 5.0,
    ) -> tuple[int, bytes]:
        """POST a signed status callback for message ``sid``; returns (HTTP status, body).

        ``url`` overrides the message's StatusCallback (tests of forged requests).
        """
        message = self.get(sid)
        if message is None:
            raise KeyError(sid)
        target = url or message.status_callback
        if not target:
            raise ValueError(f"message {sid} has no StatusCallback")
        params = self.callback_params(sid, status, error_code)
        request = urllib.request.Request(
            target,
            data=urlencode(params).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": self.sign(target, params),
                "User-Agent": "TwilioProxy/1.1",
            },
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout_s) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Twilio Messages API on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--no-record", action="store_true", help="count accepted messages, keep none (benchmarks)"
    )
    parser.add_argument("--account-sid", default=TEST_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=TEST_AUTH_TOKEN)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NUMBER=FAULT",
        help="e.g. +46700000001=21211 (repeatable)",
    )
    args = parser.parse_args(argv)
    faults = dict(item.split("=", 1) for item in args.fault)
    fake = FakeTwilio(
        host=args.host,
        port=args.port,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        faults=faults,
        latency_s=args.latency_ms / 1000,
        record=not args.no_record,
    )
    with fake:
        print(
            f"fake Twilio on {fake.url} account {fake.account_sid} token {fake.auth_token} "
            f"latency {args.latency_ms:g} ms",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
