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
import base64
import json
import logging
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # headers and body leave in one send (flushed after each request)
    server: _Server

    def log_message(self, format, *args):
        logger.debug("twilio fake: " + format, *args)

    # -- helpers ---------------------------------------------------------------------

    def _send_json(self, status: int, payload: dict, extra_headers: dict | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: int, extra_headers: dict | None = None, **fmt) -> None:
        message = ERROR_MESSAGES.get(code, "Error {code}").format(code=code, **fmt)
        self._send_json(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            extra_headers,
        )

    def _authorised(self, account: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        fake = self.server.fake
        return (
            secrets.compare_digest(user, fake.account_sid)
            and secrets.compare_digest(password, fake.auth_token)
            and account == fake.account_sid
        )

    def _read_form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    # -- verbs -----------------------------------------------------------------------

    def do_POST(self):
        fake = self.server.fake
        form = self._read_form()  # always drain the body, keep-alive depends on it
        match = _MESSAGES_RE.match(self.path.split("?", 1)[0])
        if not match:
            return self._error(404, 20404)
        if not self._authorised(match["account"]):
            return self._error(401, 20003, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if fake.latency_s:
            time.sleep(fake.latency_s)
        to = form.get("To", "")
        if not to:
            return self._error(400, 21604)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(400, 21603)
        if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
            return self._error(400, 21602)
        if len(form.get("Body", "")) > 1600:
            return self._error(400, 21617)
        fault = fake.faults.get(to)
        if fault is not None:
            return self._fault(fault, to)
        message = fake._record(match["account"], form)
        return self._send_json(201, fake.resource(message))

    def _fault(self, fault: str, to: str):
        fake = self.server.fake
        if fault == "timeout":
            fake._stopping.wait(fake.timeout_sleep_s)
            self.close_connection = True
            return self._error(503, 20503)
        if fault == "429":
            return self._error(429, 20429, {"Retry-After": str(fake.retry_after_s)})
        if fault == "500":
            return self._error(500, 20500)
        if fault == "503":
            return self._error(503, 20503)
        if fault.isdigit():
            return self._error(400, int(fault), to=to)
        raise ValueError(f"unknown fault {fault!r}")

    def do_GET(self):
        match = _MESSAGE_RE.match(self.path.split("?", 1)[0])
        if not match:
            return self._error(404, 20404)
        if not self._authorised(match["account"]):
            return self._error(401, 20003, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        message = self.server.fake.get(match["sid"])
        if message is None:
            return self._error(404, 20404)
        return self._send_json(200, self.server.fake.resource(message))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    fake: FakeTwilio

    def handle_error(self, request, client_address):
        # a client that gave up (timeout fault) leaves a broken pipe: not worth a traceback
        logger.debug("twilio fake: error serving %s", client_address, exc_info=True)


class FakeTwilio:
    """The fake Twilio API: start it, point ``TwilioSms(api_base_url=fake.url)`` at it.

    ``faults`` maps a destination number to a fault (see the module doc);
    ``latency_s`` delays every authorised POST; ``messages`` lists what was
    accepted (thread-safe snapshot).
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
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.faults: dict[str, str] = dict(faults or {})
        self.latency_s = latency_s
        self.timeout_sleep_s = timeout_sleep_s
        self.retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._messages: list[RecordedMessage] = []
        self._by_sid: dict[str, RecordedMessage] = {}
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL to give the SDK instead of https://api.twilio.com."""
        return f"http://{self._httpd.server_address[0]}:{self.port}"

    def start(self) -> FakeTwilio:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one interval
            name="fake-twilio",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

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
