"""The embedded default when no SMS or email provider is configured: send nothing.

The application keeps every composed message in its own outbox table, where
operators can read it in the console, loudly marked NOT SENT. This channel only
tells the dispatcher that the message was "accepted" locally.
"""

from __future__ import annotations

import logging

from channels.base import DeliveryResult, Message, Outcome, PushChannel, Recipient, masked

logger = logging.getLogger(__name__)


class LocalOutbox(PushChannel):
    """A push channel that sends nothing: ``LocalOutbox("sms")`` or ``LocalOutbox("email")``."""

    local_only = True

    def __init__(self, name: str):
        if not name:
            raise ValueError("LocalOutbox needs a channel name, e.g. 'sms' or 'email'")
        self.name = name

    def try_send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        logger.info(
            "%s: NOT SENT (local outbox) %s to %s",
            self.name,
            message.reference,
            masked(recipient.address),
        )
        return DeliveryResult(Outcome.ACCEPTED, provider_ref=f"local-{message.reference}")

    async def try_send_async(self, recipient: Recipient, message: Message) -> DeliveryResult:
        return self.try_send(recipient, message)  # nothing to wait for: no thread needed

    async def close_async(self) -> None:
        return None
