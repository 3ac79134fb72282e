"""What ``GET /api/v1/active`` answers: the banner's data.

The body itself is rendered to bytes by ``channels.banner.active_json`` (the
channel owns the banner's data and its cache validators). These models
describe that body for the OpenAPI document; ``tests/public/test_banner_api.py``
checks that they mirror ``channels.banner.active_payload`` field for field.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from alerts.notices.schemas import CategoryName, Language, Severity
from alerts.web.responses import OmitsAbsent, Page


class ActiveNotice(OmitsAbsent):
    """A notice as the banner shows it."""

    OMITTED_WHEN_NONE = frozenset({"next_update", "expected_restoration", "promises"})

    id: uuid.UUID
    revision: int
    lang: Language = Field(description="The language of headline and instruction")
    headline: str
    instruction: str
    severity: Severity
    severity_label: str = Field(description="Severity in the asked language")
    category: CategoryName
    category_label: str
    url: str = Field(description="The notice's public page")
    updated: str = Field(json_schema_extra={"format": "date-time"})
    ended: bool = Field(description="An all-clear or expired notice still shown for a while")
    status: Literal["active", "updated", "all_clear", "expired"]
    status_label: str = Field(description='"Avblåst", "Uppdaterad", ...; empty for a first alert')
    next_update: str | SkipJsonSchema[None] = Field(
        default=None,
        description="When the next update is expected at the latest (UTC); absent when not promised",
        json_schema_extra={"format": "date-time"},
    )
    expected_restoration: str | SkipJsonSchema[None] = Field(
        default=None,
        description="When the service is expected back (UTC); absent when not promised",
        json_schema_extra={"format": "date-time"},
    )
    promises: list[str] | SkipJsonSchema[None] = Field(
        default=None,
        description='Those times in words, in the asked language ("Nästa besked senast 14:00")',
    )


class ActiveNotices(Page[ActiveNotice]):
    """Active notices, most severe first, then newest; ended ones after them; all on one page."""

    lang: Language = Field(description="The language of the labels")
    alert: bool = Field(description="True when an active notice is Severe or Extreme")
