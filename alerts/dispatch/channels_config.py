"""Push channels from the app's configuration: Twilio and SMTP, or the local outbox.

With no provider configured a channel is :class:`~channels.providers.local_outbox.LocalOutbox`:
nothing leaves the machine and the composed messages are kept for operators
(the embedded default).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from alerts.config import Settings
from alerts.dispatch.messages import Links
from channels.base import PushChannel
from channels.providers.local_outbox import LocalOutbox
from channels.providers.smtp import SmtpEmail
from channels.providers.twilio import TwilioSms

logger = logging.getLogger(__name__)

# The SDK logs every request and its headers at INFO: at hundreds of messages a second
# that is most of a worker's CPU, and it would put phone numbers in the log.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

ChannelFactory = Callable[[], PushChannel]


def links_from(settings: Settings) -> Links:
    return Links(settings.base_url, settings.secret_key)


def sms_factory(settings: Settings) -> ChannelFactory:
    """Builds TwilioSms (real SDK; ``VARSLA_TWILIO_API_URL`` rebases it) or the outbox."""
    if not settings.sms_configured:
        return lambda: LocalOutbox("sms")
    callback = links_from(settings).status_callback_url

    def build() -> PushChannel:
        return TwilioSms(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            from_number=settings.twilio_from or None,
            messaging_service_sid=settings.twilio_messaging_service_sid or None,
            status_callback_url=callback,
            api_base_url=settings.twilio_api_url or None,
            timeout_s=settings.twilio_timeout_s,
            pool_maxsize=settings.send_concurrency,
        )

    return build


def email_factory(settings: Settings) -> ChannelFactory:
    """Builds SmtpEmail from ``VARSLA_SMTP_URL`` (DKIM when configured) or the outbox."""
    if not settings.email_configured:
        return lambda: LocalOutbox("email")
    name, address = parseaddr(settings.mail_from or "varsla@localhost")
    dkim: dict[str, Any] = {}
    if settings.dkim_key_file and settings.dkim_selector and settings.dkim_domain:
        dkim = {
            "dkim_selector": settings.dkim_selector,
            "dkim_domain": settings.dkim_domain,
            "dkim_private_key": Path(settings.dkim_key_file).read_bytes(),
        }
    url = settings.smtp_url

    def build() -> PushChannel:
        return SmtpEmail.from_url(
            url,
            address or "varsla@localhost",
            from_name=name or None,
            connections=settings.smtp_connections,
            **dkim,
        )

    return build


def channel_factories(settings: Settings) -> dict[str, ChannelFactory]:
    """One factory per push channel; each dispatcher's sender builds its own instances."""
    factories = {"sms": sms_factory(settings), "email": email_factory(settings)}
    for channel, configured in (
        ("sms", settings.sms_configured),
        ("email", settings.email_configured),
    ):
        if not configured:
            logger.warning(
                "%s: no provider configured; messages go to the local outbox, NOT SENT", channel
            )
    return factories
