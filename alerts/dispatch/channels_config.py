"""Push channels from the app's configuration: Twilio and SMTP, or the local outbox.

With no provider configured a channel is :class:`~channels.local_outbox.LocalOutbox`:
nothing leaves the machine and the composed messages are kept for operators
(the embedded default).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from alerts.dispatch.messages import Links
from channels.base import PushChannel
from channels.email import SmtpEmail
from channels.local_outbox import LocalOutbox
from channels.sms import TwilioSms

logger = logging.getLogger(__name__)

# The SDK logs every request and its headers at INFO: at hundreds of messages a second
# that is most of a worker's CPU, and it would put phone numbers in the log.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

ChannelFactory = Callable[[], PushChannel]


def _setting(config: Mapping[str, Any], name: str, default: str = "") -> str:
    value = config.get(name)
    if value in (None, ""):
        value = os.environ.get(name, default)
    return str(value)


def sms_configured(config: Mapping[str, Any]) -> bool:
    return bool(
        config.get("TWILIO_ACCOUNT_SID")
        and config.get("TWILIO_AUTH_TOKEN")
        and (config.get("TWILIO_FROM") or config.get("TWILIO_MESSAGING_SERVICE_SID"))
    )


def email_configured(config: Mapping[str, Any]) -> bool:
    return bool(config.get("VARSLA_SMTP_URL"))


def links_from(config: Mapping[str, Any]) -> Links:
    return Links(config["VARSLA_BASE_URL"].rstrip("/"), config["SECRET_KEY"])


def sms_factory(config: Mapping[str, Any]) -> ChannelFactory:
    """Builds TwilioSms (real SDK; ``VARSLA_TWILIO_API_URL`` rebases it) or the outbox."""
    if not sms_configured(config):
        return lambda: LocalOutbox("sms")
    timeout_s = float(_setting(config, "VARSLA_TWILIO_TIMEOUT_S", "10"))
    callback = links_from(config).status_callback_url

    def build() -> PushChannel:
        return TwilioSms(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            from_number=config.get("TWILIO_FROM") or None,
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            status_callback_url=callback,
            api_base_url=config.get("VARSLA_TWILIO_API_URL") or None,
            timeout_s=timeout_s,
        )

    return build


def email_factory(config: Mapping[str, Any]) -> ChannelFactory:
    """Builds SmtpEmail from ``VARSLA_SMTP_URL`` (DKIM when configured) or the outbox."""
    if not email_configured(config):
        return lambda: LocalOutbox("email")
    name, address = parseaddr(config.get("VARSLA_MAIL_FROM") or "varsla@localhost")
    dkim: dict[str, Any] = {}
    key_file = config.get("VARSLA_DKIM_KEY_FILE")
    if key_file and config.get("VARSLA_DKIM_SELECTOR") and config.get("VARSLA_DKIM_DOMAIN"):
        dkim = {
            "dkim_selector": config["VARSLA_DKIM_SELECTOR"],
            "dkim_domain": config["VARSLA_DKIM_DOMAIN"],
            "dkim_private_key": Path(key_file).read_bytes(),
        }
    url = config["VARSLA_SMTP_URL"]

    def build() -> PushChannel:
        return SmtpEmail.from_url(
            url, address or "varsla@localhost", from_name=name or None, **dkim
        )

    return build


def channel_factories(config: Mapping[str, Any]) -> dict[str, ChannelFactory]:
    """One factory per push channel; each sending thread builds its own instances."""
    factories = {"sms": sms_factory(config), "email": email_factory(config)}
    for channel, configured in (
        ("sms", sms_configured(config)),
        ("email", email_configured(config)),
    ):
        if not configured:
            logger.warning(
                "%s: no provider configured; messages go to the local outbox, NOT SENT", channel
            )
    return factories
