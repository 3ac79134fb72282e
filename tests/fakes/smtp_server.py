"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

Captures every message as a parsed ``email.message.EmailMessage`` with its
envelope, counts SMTP sessions that sent mail (to check connection reuse),
and can script replies per recipient (``replies={"bad@x.se": "550 5.1.1 No
such user"}``), require AUTH (PLAIN/LOGIN, allowed without TLS on loopback),
offer STARTTLS or listen with implicit TLS given an ``ssl.SSLContext``
(:func:`self_signed_tls` makes one with the ``openssl`` command).
``latency_s`` delays each reply to DATA; ``record=False`` (benchmarks) only
counts accepted messages. Standalone::

    python -m tests.fakes.smtp_server --port 8025 --latency-ms 0 --no-record
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

logger = logging.getLogger(__name__)


@dataclass
class ReceivedMail:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    session_id: int  # which SMTP session (connection) carried it, 1-based
    authenticated_as: str | None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def self_signed_tls(
    directory: Path, hostname: str = "localhost"
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a fresh self-signed certificate.

    Needs the ``openssl`` command; raises RuntimeError when it is missing.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl command not found")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={hostname}",
            "-addext",
            f"subjectAltName=DNS:{hostname},IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


class _Handler:
    def __init__(self, fake: FakeSmtp):
        self.fake = fake

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.fake._note_session(session)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.fake.replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fake.latency_s:
            await asyncio.sleep(self.fake.latency_s)
        if not self.fake.record:
            with self.fake._lock:
                self.fake.accepted += 1
            return self.fake.data_reply
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        user = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            user = session.auth_data.login.decode("utf-8")
        self.fake._store(
            ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                message=message,
                session_id=self.fake._session_number(session),
                authenticated_as=user,
            )
        )
        return self.fake.data_reply


class _Controller(Controller):
    def __init__(self, fake: FakeSmtp, **kwargs):
        self.fake = fake
        super().__init__(_Handler(fake), **kwargs)
        self.protocols: list[SMTP] = []

    def factory(self):
        with warnings.catch_warnings():
            # AUTH without TLS is what we want on loopback; aiosmtpd warns on every connection
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            protocol = SMTP(self.handler, **self.SMTP_kwargs)
        self.protocols.append(protocol)
        return protocol


class FakeSmtp:
    """aiosmtpd on 127.0.0.1, a free port, as a context manager.

    ``users`` ({"user": "pass"}) turns on required AUTH. ``starttls_context``
    offers STARTTLS (and requires it when ``require_starttls``);
    ``implicit_tls_context`` makes it an SMTPS listener instead.
    """

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        replies: dict[str, str] | None = None,
        data_reply: str = "250 2.0.0 Message accepted",
        starttls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        record: bool = True,
    ):
        self.host = host
        self.port = port or free_port(host)
        self.latency_s = latency_s
        self.record = record
        self.accepted = 0
        self.users = dict(users or {})
        self.replies = {k.lower(): v for k, v in (replies or {}).items()}
        self.data_reply = data_reply
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []
        self._sessions: list[object] = []
        kwargs = {
            "hostname": host,
            "port": self.port,
            "server_hostname": "fake-smtp.localhost",
            "ident": "Varsla fake SMTP",
        }
        if self.users:
            kwargs.update(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=False
            )
        if starttls_context is not None:
            kwargs.update(tls_context=starttls_context, require_starttls=require_starttls)
        if implicit_tls_context is not None:
            kwargs["ssl_context"] = implicit_tls_context
        self._controller = _Controller(self, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8")
            if self.users.get(user) == auth_data.password.decode("utf-8"):
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> FakeSmtp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    # -- records ---------------------------------------------------------------------

    def _note_session(self, session) -> None:
        with self._lock:
            if not any(s is session for s in self._sessions):
                self._sessions.append(session)

    def _session_number(self, session) -> int:
        with self._lock:
            for number, known in enumerate(self._sessions, start=1):
                if known is session:
                    return number
        return 0

    def _store(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.accepted += 1
            self._received.append(mail)

    @property
    def received(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    @property
    def session_count(self) -> int:
        """SMTP sessions (connections) that sent at least one MAIL FROM."""
        with self._lock:
            return len(self._sessions)

    def drop_connections(self) -> None:
        """Close every open client connection (as an idle timeout on a real server would)."""
        loop = self._controller.loop
        for protocol in list(self._controller.protocols):
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                loop.call_soon_threadsafe(transport.close)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake SMTP server (aiosmtpd) on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--no-record", action="store_true", help="count messages, keep none")
    args = parser.parse_args(argv)
    with FakeSmtp(
        port=args.port, latency_s=args.latency_ms / 1000, record=not args.no_record
    ) as fake:
        print(f"fake SMTP on {fake.url} latency {args.latency_ms:g} ms", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
