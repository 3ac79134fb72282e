"""What the notices API answers: the notice with its revisions, its audit trail, the templates.

Class names are the schema names in the OpenAPI document. ``serializers``
builds these from the database rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from alerts.notices.models import MsgType, NoticeStatus, RevisionState
from alerts.notices.schemas import (
    CategoryName,
    Certainty,
    ChannelName,
    Language,
    Severity,
    Urgency,
)
from alerts.web.responses import OmitsAbsent, OutputModel, Page

Email = Annotated[str | None, Field(description="The operator's email; null when unknown")]
NextUpdate = Annotated[
    datetime | None,
    Field(default=None, description="When the next update is expected at the latest; null if none"),
]
ExpectedRestoration = Annotated[
    datetime | None,
    Field(default=None, description="When the service is expected back; null if not promised"),
]


class NoticeText(OutputModel):
    headline: str
    description: str
    instruction: str


class NoticeCircle(OutputModel):
    center: Annotated[list[float], Field(min_length=2, max_length=2, description="[lon, lat]")]
    radius_m: float


class NoticeArea(OmitsAbsent):
    """The area as the operator gave it (zones, and/or a polygon, and/or a circle)."""

    OMITTED_WHEN_NONE = frozenset({"geometry", "circle", "name"})

    zones: list[str]
    name: str | SkipJsonSchema[None] = Field(default=None, description="The area in words")
    geometry: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None, description="GeoJSON Polygon or MultiPolygon in lon/lat"
    )
    circle: NoticeCircle | SkipJsonSchema[None] = None


class Revision(OutputModel):
    """One version of a notice: the first alert, an update, or the all-clear (CAP msgType)."""

    number: int
    identifier: str = Field(description="The CAP identifier of this revision")
    msg_type: MsgType
    state: RevisionState
    category: CategoryName
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    texts: dict[Language, NoticeText]
    area: NoticeArea
    onset: datetime | None
    expires: datetime | None
    next_update: NextUpdate
    expected_restoration: ExpectedRestoration
    channels: list[ChannelName]
    template: str | None
    reason: str | None = Field(description="Why it was rejected, or published in an emergency")
    created_by: Email
    created_at: datetime
    submitted_by: Email
    submitted_at: datetime | None
    approved_by: Email
    approved_at: datetime | None
    published_by: Email
    published_at: datetime | None


class PendingRevision(OutputModel):
    """A revision waiting for approval or publication, while another one is current."""

    number: int
    msg_type: MsgType
    state: RevisionState


class NoticeLinks(OutputModel):
    self: str = Field(description="This notice in the API")
    page: str = Field(description="The public page")
    cap: str = Field(description="The CAP 1.2 message of the latest revision")


class Notice(OutputModel):
    """A notice: its current revision's fields, its status, and every revision."""

    id: uuid.UUID
    status: NoticeStatus
    revision: int = Field(description="Number of the current revision")
    category: CategoryName
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    texts: dict[Language, NoticeText]
    area: NoticeArea
    area_geometry: dict[str, Any] | None = Field(
        description="The resolved area as GeoJSON (lon/lat)"
    )
    onset: datetime | None
    expires: datetime | None
    next_update: NextUpdate
    expected_restoration: ExpectedRestoration
    channels: list[ChannelName]
    publish_at: datetime | None
    published_at: datetime | None
    ended_at: datetime | None
    created_by: Email
    created_at: datetime
    updated_at: datetime
    pending_revision: PendingRevision | None
    revisions: list[Revision]
    links: NoticeLinks


class AuditEvent(OutputModel):
    """One change of a notice: who did what, when."""

    at: datetime
    by: Email
    action: str
    revision: int | None
    from_status: NoticeStatus | None
    to_status: NoticeStatus | None
    details: dict[str, Any]


class Template(OutputModel):
    """Ready wording with placeholders ({place}, {start}, {end}, ...), per language."""

    key: str
    category: CategoryName
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    texts: dict[Language, NoticeText]


class NoticeSummary(OutputModel):
    """A notice in a list: what it says and where, never its geometry or its revisions
    (``links.self`` has those), so a page of 500 stays small."""

    id: uuid.UUID
    status: NoticeStatus
    revision: int = Field(description="Number of the current revision")
    category: CategoryName
    severity: Severity
    headlines: dict[Language, str]
    zones: list[str]
    drawn_area: bool = Field(description="A polygon or circle was drawn besides any zones")
    onset: datetime | None
    expires: datetime | None
    published_at: datetime | None
    ended_at: datetime | None
    created_by: Email
    updated_at: datetime
    pending_revision: PendingRevision | None
    links: NoticeLinks


class NoticePage(Page[NoticeSummary]):
    """Notices, newest first."""


class AuditTrail(Page[AuditEvent]):
    """A notice's audit events, oldest first, all on one page."""


class TemplateList(Page[Template]):
    """Every template, on one page."""


class ReachChannel(OutputModel):
    """Subscribers one channel reaches."""

    total: int
    by_language: dict[str, int] = Field(description="Subscribers per language (sv, en)")


class Reach(OutputModel):
    """Who a notice's area reaches, before anything is sent."""

    subscribers: int = Field(description="Subscribers reached by at least one channel")
    channels: dict[str, ReachChannel] = Field(
        description="Per push channel (sms, email) of the notice: subscribers who want it"
    )
    addresses: int = Field(description="Register addresses inside the area")
    addresses_without_subscriber: int = Field(
        description="Register addresses inside the area for which nobody has subscribed: "
        "households to reach another way"
    )
