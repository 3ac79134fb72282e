"""What the delivery API answers: a notice's delivery figures and its SMS preview.

Class names are the schema names in the OpenAPI document. ``report`` computes
the figures; the views pass them through these models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from alerts.dispatch.models import DeliveryStatus, FanoutState
from alerts.dispatch.report import FAILURE_LIMIT
from alerts.notices.models import MsgType
from alerts.notices.schemas import Language
from alerts.web.responses import OutputModel

StatusCounts = Annotated[
    dict[DeliveryStatus, int], Field(description="delivery status -> number of deliveries")
]


class DeliveryReason(OutputModel):
    """How many deliveries of a channel ended in a status for one reason."""

    channel: str
    status: DeliveryStatus
    error_code: str | None = Field(description="The provider's or our own code; null if none")
    count: int


class DeliveryFailure(OutputModel):
    """One failed or undelivered delivery, its recipient masked."""

    delivery_id: int
    revision: int
    channel: str
    status: DeliveryStatus
    recipient: str = Field(description="Masked: +467****05, a***@example.se")
    attempts: int
    error_code: str | None
    error: str | None
    updated_at: str = Field(json_schema_extra={"format": "date-time"})


class FanoutProgress(OutputModel):
    """How far the writing of one revision's deliveries (its fan-out) has got."""

    revision: int
    state: FanoutState = Field(
        description="pending (no chunk written yet), expanding, done, or stopped (a newer "
        "revision was published, or the notice ended, before it was written to its end)"
    )
    in_progress: bool
    targets: int | None = Field(
        description="People it may write deliveries for (the area's subscribers and earlier "
        "revisions' recipients); null until a worker has counted them"
    )
    expanded: int = Field(description="How many of the targets are done")
    rows_written: int
    stopped_because: str | None
    failures: int = Field(
        description="Chunks that could not be written (each is tried again, the wait "
        "doubling from 5 s to 5 minutes; other notices' fan-outs go ahead meanwhile)"
    )
    last_failure: str | None = Field(description="Why the last failed chunk failed")
    retry_at: datetime | None = Field(
        description="When a fan-out whose last chunk failed is tried again (UTC)"
    )


class NoticeDeliveries(OutputModel):
    """Delivery figures of a notice."""

    notice_id: uuid.UUID
    fanout_in_progress: bool = Field(
        description="True while a revision's deliveries are still being written: the counts "
        "grow until it is false"
    )
    fanout: list[FanoutProgress] = Field(description="Each published revision's fan-out")
    total: int
    by_channel: dict[str, StatusCounts] = Field(description="channel -> status -> count")
    by_revision: dict[str, dict[str, StatusCounts]] = Field(
        description="revision number -> channel -> status -> count"
    )
    reasons: list[DeliveryReason] = Field(
        description="Why deliveries failed, were dropped or opted out; and, for pending ones "
        "waiting for another try, why the last try did not go through; most frequent first"
    )
    failures: list[DeliveryFailure] = Field(
        description=f"The latest {FAILURE_LIMIT} failed or undelivered, newest first"
    )


class SmsText(OutputModel):
    """The SMS of one language as residents will read it."""

    body: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int = Field(description="Number of SMS parts it is sent as")
    length_units: int = Field(description="Length in the encoding's units (septets or UTF-16)")
    characters: int


class SmsPreview(OutputModel):
    """The SMS of a revision, per language."""

    notice_id: uuid.UUID
    revision: int
    msg_type: MsgType
    languages: dict[Language, SmsText]
