"""Email over SMTP: sending a composed message on reused connections.

:class:`SmtpEmail` builds the MIME message from a
:class:`~channels.base.Message` (see :mod:`channels.compose.email`) and sends
it, optionally DKIM-signed with dkimpy: with smtplib over one connection per
batch (:meth:`~SmtpEmail.send`), or on an asyncio event loop with aiosmtplib
over a small pool of connections used in parallel, each reused from message to
message (:meth:`~SmtpEmail.send_async`). SMTP reply codes become
:class:`~channels.base.Outcome` values here.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from channels.base import DeliveryResult, Message, Outcome, PushChannel, Recipient

logger = logging.getLogger(__name__)

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
    ``connections`` aiosmtplib connections open on the running event loop, each
    carrying one message at a time, so that many messages are in flight at
    once; use one instance per event loop.

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
        self.connections = max(1, connections)
        # send_async: connections not carrying a message, and how many may exist at once.
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots: asyncio.Semaphore | None = None

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

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        """QUIT the connection held across the batch."""
        with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()

    # --- message ------------------------------------------------------------------

    def build(self, recipient: Recipient, message: Message) -> EmailMessage:
        """The MIME message: multipart/alternative (plain, html) with our headers."""
        msg = EmailMessage(policy=email.policy.SMTP)
        msg["From"] = (
            formataddr((self.from_name, self.mail_from)) if self.from_name else self.mail_from
        )
        msg["To"] = (
            formataddr((recipient.name, recipient.address)) if recipient.name else recipient.address
        )
        msg["Subject"] = message.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Content-Language"] = message.language
        for key, value in message.headers.items():
            if key in msg:
                del msg[key]
            msg[key] = value
        if "Message-ID" not in msg:
            msg["Message-ID"] = f"<{message.reference}@{self.mail_from.rpartition('@')[2]}>"
        msg.set_content(message.body, subtype="plain", charset="utf-8")
        if message.html:
            msg.add_alternative(message.html, subtype="html", charset="utf-8")
        return msg

    def _serialise(self, msg: EmailMessage, smtputf8: bool) -> bytes:
        policy = email.policy.SMTPUTF8 if smtputf8 else email.policy.SMTP
        data = msg.as_bytes(policy=policy)
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
        msg = self.build(recipient, message)
        smtputf8 = not (recipient.address.isascii() and self.mail_from.isascii())
        data = self._serialise(msg, smtputf8)
        options = ["SMTPUTF8", "BODY=8BITMIME"] if smtputf8 else []
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._smtp is None:
                        self._smtp = self._connect()
                    self._smtp.sendmail(
                        self.mail_from, [recipient.address], data, mail_options=options
                    )
                    return DeliveryResult(Outcome.ACCEPTED, provider_ref=msg["Message-ID"])
                except smtplib.SMTPServerDisconnected as exc:
                    # a reused connection the server closed while idle: reconnect once
                    self._drop()
                    if attempt == 2 or self.connections_opened == 0:
                        return DeliveryResult(
                            Outcome.RETRY, error_code="disconnected", error=str(exc)
                        )
                    logger.info("smtp: connection dropped, reconnecting")
                except smtplib.SMTPRecipientsRefused as exc:
                    code, reply = next(iter(exc.recipients.values()), (None, b""))
                    return self._reply_result(code, reply)
                except smtplib.SMTPAuthenticationError as exc:
                    self._drop()
                    return DeliveryResult(
                        Outcome.RETRY,
                        error_code=str(exc.smtp_code),
                        error=f"authentication failed: {_text(exc.smtp_error)}",
                    )
                except smtplib.SMTPSenderRefused as exc:
                    return DeliveryResult(
                        Outcome.RETRY,
                        error_code=str(exc.smtp_code),
                        error=f"sender refused: {_text(exc.smtp_error)}",
                    )
                except smtplib.SMTPResponseException as exc:  # SMTPDataError and friends
                    self._reset()
                    return self._reply_result(exc.smtp_code, exc.smtp_error)
                except smtplib.SMTPNotSupportedError as exc:
                    return DeliveryResult(Outcome.FAILED, error_code="unsupported", error=str(exc))
                except TimeoutError as exc:
                    self._drop()
                    return DeliveryResult(Outcome.RETRY, error_code="timeout", error=str(exc))
                except (smtplib.SMTPException, OSError) as exc:
                    self._drop()
                    return DeliveryResult(Outcome.RETRY, error_code="connection", error=str(exc))
        raise AssertionError("unreachable")

    # --- asyncio (aiosmtplib) ------------------------------------------------------

    async def _connect_async(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            local_hostname=self.local_hostname,
            timeout=self.timeout_s,
            use_tls=self.security == "ssl",
            start_tls=self.security == "starttls",
            tls_context=self._tls_context() if self.security != "plain" else None,
        )
        await smtp.connect()
        try:
            if self.username:
                await smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self.connections_opened += 1
        logger.debug("smtp: connected to %s:%s (%s, async)", self.host, self.port, self.security)
        return smtp

    async def try_send_async(self, recipient: Recipient, message: Message) -> DeliveryResult:
        """:meth:`try_send` on the event loop, over one of ``connections`` reused connections."""
        msg = self.build(recipient, message)
        smtputf8 = not (recipient.address.isascii() and self.mail_from.isascii())
        data = self._serialise(msg, smtputf8)
        options = ["SMTPUTF8", "BODY=8BITMIME"] if smtputf8 else []
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.connections)
        async with self._slots:
            smtp = self._idle.pop() if self._idle else None
            try:
                result, smtp = await self._send_on(smtp, recipient, msg, data, options)
            finally:
                if smtp is not None:
                    self._idle.append(smtp)
        return result

    async def _send_on(
        self,
        smtp: aiosmtplib.SMTP | None,
        recipient: Recipient,
        msg: EmailMessage,
        data: bytes,
        options: list[str],
    ) -> tuple[DeliveryResult, aiosmtplib.SMTP | None]:
        """Send on ``smtp`` (connecting when None); returns the result and the connection
        that is still good to reuse (None when it was dropped)."""
        for attempt in (1, 2):
            reused = smtp is not None
            try:
                if smtp is None:
                    smtp = await self._connect_async()
                await smtp.sendmail(self.mail_from, [recipient.address], data, mail_options=options)
                return DeliveryResult(Outcome.ACCEPTED, provider_ref=msg["Message-ID"]), smtp
            except aiosmtplib.SMTPServerDisconnected as exc:
                # a reused connection the server closed while idle: reconnect once
                _close_quietly(smtp)
                smtp = None
                if attempt == 2 or not reused:
                    result = DeliveryResult(
                        Outcome.RETRY, error_code="disconnected", error=str(exc)
                    )
                    return result, None
                logger.info("smtp: connection dropped, reconnecting")
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0] if exc.recipients else None
                code = refused.code if refused is not None else None
                return self._reply_result(code, refused.message if refused else ""), smtp
            except aiosmtplib.SMTPRecipientRefused as exc:
                return self._reply_result(exc.code, exc.message), smtp
            except aiosmtplib.SMTPAuthenticationError as exc:
                _close_quietly(smtp)
                return DeliveryResult(
                    Outcome.RETRY,
                    error_code=str(exc.code),
                    error=f"authentication failed: {exc.message}",
                ), None
            except aiosmtplib.SMTPSenderRefused as exc:
                return DeliveryResult(
                    Outcome.RETRY,
                    error_code=str(exc.code),
                    error=f"sender refused: {exc.message}",
                ), smtp
            except aiosmtplib.SMTPResponseException as exc:  # SMTPDataError and friends
                # sendmail has sent RSET already: the connection is ready for the next one
                return self._reply_result(exc.code, exc.message), smtp
            except aiosmtplib.SMTPNotSupported as exc:
                return DeliveryResult(
                    Outcome.FAILED, error_code="unsupported", error=str(exc)
                ), smtp
            except TimeoutError as exc:
                _close_quietly(smtp)
                return DeliveryResult(Outcome.RETRY, error_code="timeout", error=str(exc)), None
            except (aiosmtplib.SMTPException, OSError) as exc:
                _close_quietly(smtp)
                return DeliveryResult(Outcome.RETRY, error_code="connection", error=str(exc)), None
        raise AssertionError("unreachable")

    async def close_async(self) -> None:
        """QUIT every connection :meth:`send_async` holds (and the synchronous one)."""
        idle, self._idle = self._idle, []
        for smtp in idle:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                _close_quietly(smtp)
        await asyncio.to_thread(self.close)

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    @staticmethod
    def _reply_result(code: int | None, reply: bytes | str) -> DeliveryResult:
        return DeliveryResult(_smtp_code_outcome(code), error_code=str(code), error=_text(reply))


def _close_quietly(smtp: aiosmtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(Exception):
            smtp.close()


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)
