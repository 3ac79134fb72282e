"""Email over SMTP: sending a composed message on reused connections.

:class:`SmtpEmail` builds the MIME message from a
:class:`~channels.base.Message` (see :mod:`channels.compose.email`) and sends
it, optionally DKIM-signed with dkimpy: with smtplib over one connection per
batch (:meth:`~SmtpEmail.send`), or from an asyncio event loop over a pool of
connections used in parallel, one thread each, each reused from message to
message (:meth:`~SmtpEmail.send_async`). SMTP reply codes become
:class:`~channels.base.Outcome` values here.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import email.policy
import logging
import re
import secrets
import smtplib
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from email.utils import formataddr, formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from channels.base import DeliveryResult, Message, Outcome, PushChannel, Recipient

logger = logging.getLogger(__name__)

#: Headers whose value is a list of angle-bracketed URIs or ids (RFC 2369, RFC 5322's
#: msg-id), written as they are and folded only between items. The email package treats
#: them as unstructured text and RFC 2047-encodes a value longer than a line: every
#: one-click unsubscribe link (``<https://host/u/token>``) came out as ``=?utf-8?q?=3C...``,
#: which mail providers do not read as a link.
_BRACKETED = frozenset({"Message-ID", "List-Unsubscribe", "List-Help", "List-Archive"})
#: A plain ASCII address with nothing to quote or encode: written as it is, as the email
#: package would (checked in tests/channels/test_email.py), without parsing it.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")

#: Headers covered by the DKIM signature (RFC 8058 wants the List-Unsubscribe pair signed).
DKIM_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"MIME-Version",
    b"Content-Type",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"Auto-Submitted",
)


def _smtp_code_outcome(code: int | None) -> Outcome:
    if code is not None and 500 <= code < 600:
        return Outcome.FAILED
    return Outcome.RETRY


class SmtpEmail(PushChannel):
    """Sends email over SMTP, reusing ONE connection across a batch.

    ``security`` is "plain", "starttls" or "ssl" (implicit TLS). The connection
    opens on the first send, is reopened when the server dropped it, and is
    closed by :meth:`close`. Sends on one instance are serialised by a lock
    (an SMTP connection carries one transaction at a time): for parallel sending
    give each worker its own instance. :meth:`send_async` instead keeps up to
    ``connections`` connections open, on as many threads, each carrying one
    message at a time, so that many messages are in flight at once.

    Outcomes: a 5xx reply to RCPT/DATA is FAILED, 4xx is RETRY; connection
    errors and timeouts are RETRY. Authentication failures and a refused
    sender are our configuration, not the recipient, so they are RETRY too
    (the dispatcher's attempt limit ends them) with the SMTP code as error_code.
    """

    name = "email"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        mail_from: str,
        username: str | None = None,
        password: str | None = None,
        security: str = "plain",
        timeout_s: float = 30,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        dkim_selector: str | None = None,
        dkim_domain: str | None = None,
        dkim_private_key: bytes | str | None = None,
        from_name: str | None = None,
        connections: int = 8,
    ):
        if security not in ("plain", "starttls", "ssl"):
            raise ValueError(f"security must be plain, starttls or ssl, not {security!r}")
        if not (username or "").isascii() or not (password or "").isascii():
            raise ValueError("SMTP user name and password must be ASCII (smtplib sends them so)")
        dkim_parts = (dkim_selector, dkim_domain, dkim_private_key)
        if any(dkim_parts) and not all(dkim_parts):
            raise ValueError("DKIM needs dkim_selector, dkim_domain and dkim_private_key")
        self.host = host
        self.port = port or {"plain": 25, "starttls": 587, "ssl": 465}[security]
        self.mail_from = mail_from
        self.from_name = from_name
        self.username = username
        self.password = password
        self.security = security
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self.dkim_selector = dkim_selector
        self.dkim_domain = dkim_domain
        if isinstance(dkim_private_key, str):
            dkim_private_key = dkim_private_key.encode("ascii")
        self.dkim_private_key = dkim_private_key
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        self.connections_opened = 0
        self._header_cache: dict[tuple[str, str, bool], bytes] = {}
        self.connections = max(1, connections)
        # send_async: connections no thread is carrying a message on, and the threads.
        self._idle: list[smtplib.SMTP] = []
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def from_url(cls, url: str, mail_from: str, **kwargs: Any) -> SmtpEmail:
        """``smtp://user:pass@host:port``, ``smtps://...`` (implicit TLS), ``...?starttls=1``.

        User and password are percent-decoded. Other keyword arguments (DKIM,
        ``timeout_s``, ``ssl_context``, ``from_name``) pass through.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP URL must start with smtp:// or smtps://, got {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("SMTP URL has no host")
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["0"])[-1].lower() in ("1", "true", "yes", "on")
        security = "ssl" if parts.scheme == "smtps" else ("starttls" if starttls else "plain")
        if "timeout" in query and "timeout_s" not in kwargs:
            kwargs["timeout_s"] = float(query["timeout"][-1])
        return cls(
            parts.hostname,
            parts.port,
            mail_from=mail_from,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            security=security,
            **kwargs,
        )

    # --- connection ---------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout_s,
                context=self._tls_context(),
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout_s
            )
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self.connections_opened += 1
        logger.debug("smtp: connected to %s:%s (%s)", self.host, self.port, self.security)
        return smtp

    def close(self) -> None:
        """QUIT the connections held across batches, and stop :meth:`send_async`'s threads."""
        with self._lock:
            held, self._smtp = [self._smtp] if self._smtp else [], None
        held += self._idle
        self._idle = []
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)
        for smtp in held:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                _close_quietly(smtp)

    # --- message ------------------------------------------------------------------

    def render(self, recipient: Recipient, message: Message, smtputf8: bool) -> tuple[bytes, str]:
        """The message as SMTP DATA (DKIM-signed when configured) and its Message-ID:
        multipart/alternative (plain, html) with our headers.

        Written here rather than through ``EmailMessage``: the email package parsed,
        folded and encoded some twenty headers and both bodies for every recipient, about
        1.7 of the 2.6 ms of CPU an email cost, and made email the sender's bottleneck.
        Each header is still folded (and RFC 2047-encoded) by the email package's policy,
        but a header every recipient of a revision shares is folded once and kept; the
        bodies are quoted-printable (``binascii``, in C), so the boundary (``=_`` and
        random hex) can never occur in them.
        """
        policy = email.policy.SMTPUTF8 if smtputf8 else email.policy.SMTP
        headers: dict[str, str] = {
            "From": formataddr((self.from_name, self.mail_from))
            if self.from_name
            else self.mail_from,
            "To": formataddr((recipient.name, recipient.address))
            if recipient.name
            else recipient.address,
            "Subject": message.subject,
            "Date": formatdate(localtime=False, usegmt=True),
            "Content-Language": message.language,
        }
        headers.update(message.headers)
        message_id = headers.setdefault(
            "Message-ID", f"<{message.reference}@{self.mail_from.rpartition('@')[2]}>"
        )
        out = [self._folded(name, value, policy) for name, value in headers.items()]
        out.append(b"MIME-Version: 1.0\r\n")
        if message.html:
            boundary = f"=_{secrets.token_hex(12)}".encode("ascii")
            out += [
                b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
                b"--" + boundary + b"\r\n",
                _text_part("plain", message.body),
                b"\r\n--" + boundary + b"\r\n",
                _text_part("html", message.html),
                b"\r\n--" + boundary + b"--\r\n",
            ]
        else:
            out.append(_text_part("plain", message.body))
        return self._sign(b"".join(out)), message_id

    def _folded(self, name: str, value: str, policy: email.policy.EmailPolicy[Any]) -> bytes:
        """One header line, folded and (where it must be) RFC 2047-encoded.

        A recipient's own headers (To, Message-ID, List-Unsubscribe) take the short
        ways below; any other line is the email package's, kept while the same (name,
        value) recurs: From, Subject, List-Id... are one revision's for thousands of
        recipients.
        """
        if name in _BRACKETED and value.isascii() and value.isprintable():
            line = f"{name}: {value}"
            if len(line) > 78:  # a line may have 998 (RFC 5322): one long URI stays whole
                line = ",\r\n ".join(line.split(", "))
            return (line + "\r\n").encode("ascii")
        if name == "To" and len(value) <= 74 and _PLAIN_ADDRESS.fullmatch(value):
            return f"To: {value}\r\n".encode("ascii")
        key = (name, value, policy.utf8)
        folded = self._header_cache.get(key)
        if folded is None:
            header = policy.header_factory(name, value)
            folded = header.fold(policy=policy).encode("utf-8" if policy.utf8 else "ascii")
            if len(self._header_cache) >= 4096:  # per-recipient values come and go
                self._header_cache.clear()
            self._header_cache[key] = folded
        return folded

    def _sign(self, data: bytes) -> bytes:
        if self.dkim_private_key and self.dkim_selector and self.dkim_domain:
            import dkim

            signature = dkim.sign(
                data,
                self.dkim_selector.encode("ascii"),
                self.dkim_domain.encode("ascii"),
                self.dkim_private_key,
                include_headers=list(DKIM_HEADERS),
            )
            data = signature + data
        return data

    def try_send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        with self._lock:
            result, self._smtp = self._send_on(self._smtp, recipient, message)
        return result

    def _send_on(
        self, smtp: smtplib.SMTP | None, recipient: Recipient, message: Message
    ) -> tuple[DeliveryResult, smtplib.SMTP | None]:
        """Send on ``smtp`` (connecting when None); the result and the connection that is
        still good to reuse (None when it was closed)."""
        smtputf8 = not (recipient.address.isascii() and self.mail_from.isascii())
        data, message_id = self.render(recipient, message, smtputf8)
        options = ["SMTPUTF8", "BODY=8BITMIME"] if smtputf8 else []
        for attempt in (1, 2):
            reused = smtp is not None
            try:
                if smtp is None:
                    smtp = self._connect()
                smtp.sendmail(self.mail_from, [recipient.address], data, mail_options=options)
                return DeliveryResult(Outcome.ACCEPTED, provider_ref=message_id), smtp
            except smtplib.SMTPServerDisconnected as exc:
                # a reused connection the server closed while idle: reconnect once
                _close_quietly(smtp)
                smtp = None
                if attempt == 2 or not reused:
                    result = DeliveryResult(
                        Outcome.RETRY, error_code="disconnected", error=str(exc)
                    )
                    return result, None
                logger.info("smtp: connection dropped, reconnecting")
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()), (None, b""))
                return self._reply_result(code, reply), smtp
            except smtplib.SMTPAuthenticationError as exc:
                _close_quietly(smtp)
                return DeliveryResult(
                    Outcome.RETRY,
                    error_code=str(exc.smtp_code),
                    error=f"authentication failed: {_text(exc.smtp_error)}",
                ), None
            except smtplib.SMTPSenderRefused as exc:
                return DeliveryResult(
                    Outcome.RETRY,
                    error_code=str(exc.smtp_code),
                    error=f"sender refused: {_text(exc.smtp_error)}",
                ), smtp
            except smtplib.SMTPResponseException as exc:  # SMTPDataError and friends
                return self._reply_result(exc.smtp_code, exc.smtp_error), _reset(smtp)
            except smtplib.SMTPNotSupportedError as exc:
                return DeliveryResult(
                    Outcome.FAILED, error_code="unsupported", error=str(exc)
                ), smtp
            except TimeoutError as exc:
                _close_quietly(smtp)
                return DeliveryResult(Outcome.RETRY, error_code="timeout", error=str(exc)), None
            except (smtplib.SMTPException, OSError) as exc:
                _close_quietly(smtp)
                return DeliveryResult(Outcome.RETRY, error_code="connection", error=str(exc)), None
        raise AssertionError("unreachable")

    # --- from an event loop ----------------------------------------------------------

    async def try_send_async(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """:meth:`try_send` for an event loop: on one of ``connections`` threads, each
        carrying one message at a time over its own connection, reused from message to
        message.

        Threads with smtplib rather than aiosmtplib on the loop: aiosmtplib spent 0.77 ms
        of CPU per message against smtplib's 0.44 (0.67 with the hand-over to a thread),
        the larger part of what an email cost the worker, and a relay 100 ms away takes
        dozens of connections, one thread each, blocked in the network most of the time.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.connections, thread_name_prefix="varsla-smtp")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._send_pooled, recipient, message)

    def _send_pooled(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """On a pool thread: send over an idle connection (or a new one) and give it back.
        A thread holds one connection at a time, so there are at most ``connections``."""
        try:
            smtp: smtplib.SMTP | None = self._idle.pop()
        except IndexError:
            smtp = None
        try:
            result, smtp = self._send_on(smtp, recipient, message)
        finally:
            # Also when sending raised (a message that could not be rendered): the
            # connection is still good, and a lost one would stay open until collected.
            if smtp is not None:
                self._idle.append(smtp)
        return result

    async def close_async(self) -> None:
        """QUIT every connection (the pool's and the synchronous one); stop the threads."""
        await asyncio.to_thread(self.close)

    @staticmethod
    def _reply_result(code: int | None, reply: bytes | str) -> DeliveryResult:
        return DeliveryResult(_smtp_code_outcome(code), error_code=str(code), error=_text(reply))


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


def _reset(smtp: smtplib.SMTP | None) -> smtplib.SMTP | None:
    """``smtp`` after RSET, ready for the next message; None when it did not survive (or
    never opened: a refused EHLO or login fails the connect)."""
    if smtp is None:
        return None
    try:
        smtp.rset()
    except (smtplib.SMTPException, OSError):
        _close_quietly(smtp)
        return None
    return smtp


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)


def _text_part(subtype: str, text: str) -> bytes:
    """A text/``subtype`` MIME part in UTF-8, quoted-printable, with CRLF line ends."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    if not lines.endswith("\n"):
        lines += "\n"
    body = binascii.b2a_qp(lines.replace("\n", "\r\n").encode("utf-8"), istext=True)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + body
