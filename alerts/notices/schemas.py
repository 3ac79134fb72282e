"""Input shapes of the JSON API, validated with pydantic.

These say what a well-formed request looks like; rules that need the database
(does the zone exist?) live in the services. Field names in errors follow the
request's own nesting: ``texts.sv.headline``, ``area.circle.radius_m``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.errors import FieldError, ValidationFailed
from alerts.text import clean_text
from geodata.areas import MAX_DRAWN_PARTS, MAX_DRAWN_POSITIONS, swapped_center_message

Language = Literal["sv", "en"]
CategoryName = Literal[
    "water", "wastewater", "district_heating", "electricity", "roads", "waste", "other"
]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
ChannelName = Literal["sms", "email", "feed", "banner"]
ALL_CHANNELS: tuple[ChannelName, ...] = ("sms", "email", "feed", "banner")

HEADLINE_MAX = 160
DESCRIPTION_MAX = 4000
INSTRUCTION_MAX = 1000
REQUIRED_LANGUAGES: tuple[Language, ...] = ("sv",)
TEXT_LIMITS = {
    "headline": HEADLINE_MAX,
    "description": DESCRIPTION_MAX,
    "instruction": INSTRUCTION_MAX,
}
TEMPLATE_VALUE_MAX = 200
TEMPLATE_VALUES_MAX = 10
REASON_MAX = 2000
#: A circle smaller than a house or larger than a county is a mistake (or lon/lat swapped).
RADIUS_MIN_M = 10
RADIUS_MAX_M = 100_000
#: Times a notice can have (onset, expiry, a scheduled publication), in UTC. Outside them a
#: time is a typo, and at the calendar's edges (year 1, 9999 with an offset) it cannot even
#: be converted to UTC: that used to answer 500.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _checked(max_length: int, *, multiline: bool = True) -> AfterValidator:
    """A string every output can carry (:func:`alerts.text.clean_text`), at most
    ``max_length`` characters after NFC normalisation."""
    return AfterValidator(lambda v: clean_text(v, max_length=max_length, multiline=multiline))


Headline = Annotated[
    str,
    Field(min_length=1, max_length=HEADLINE_MAX),
    _checked(HEADLINE_MAX, multiline=False),
]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), _checked(DESCRIPTION_MAX)]
Instruction = Annotated[str, Field(max_length=INSTRUCTION_MAX), _checked(INSTRUCTION_MAX)]
Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX), _checked(REASON_MAX)]
ZoneSlug = Annotated[str, Field(min_length=1, max_length=100), _checked(100, multiline=False)]
TemplateValue = Annotated[
    str, Field(max_length=TEMPLATE_VALUE_MAX), _checked(TEMPLATE_VALUE_MAX, multiline=False)
]


def _within_calendar(value: datetime) -> datetime:
    """``value`` if it lies between :data:`EARLIEST` and :data:`LATEST` (UTC), else ValueError."""
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc < LATEST:
        raise ValueError(
            f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), "
            f"not {value.isoformat()}"
        )
    return value


Moment = Annotated[
    AwareDatetime,
    AfterValidator(_within_calendar),
    Field(description=f"ISO 8601 with an offset, from {EARLIEST:%Y} up to {LATEST:%Y} (UTC)"),
]


NEXT_UPDATE_DESCRIPTION = (
    "When residents can expect the next update at the latest (ISO 8601); after onset, "
    "before expiry, not in the past"
)
RESTORATION_DESCRIPTION = (
    "When the service is expected to be back (ISO 8601); after onset, not in the past"
)


def check_times(
    onset: datetime | None,
    expires: datetime | None,
    next_update: datetime | None,
    expected_restoration: datetime | None,
) -> None:
    """The rules the two promised times follow among the notice's own times (ValueError naming
    the field first). Whether they lie in the past is the services' check: it needs "now"."""
    if next_update is not None:
        if onset is not None and next_update <= onset:
            raise ValueError("next_update must be after onset")
        if expires is not None and next_update > expires:
            raise ValueError("next_update must not be after expires")
    if expected_restoration is not None and onset is not None and expected_restoration <= onset:
        raise ValueError("expected_restoration must be after onset")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TextIn(Strict):
    headline: Headline
    description: Description = ""
    instruction: Instruction = ""


class CircleIn(Strict):
    center: Annotated[
        list[float],
        Field(min_length=2, max_length=2, description="[lon, lat] in degrees, longitude first"),
    ]
    radius_m: Annotated[float, Field(ge=RADIUS_MIN_M, le=RADIUS_MAX_M)]

    @field_validator("center")
    @classmethod
    def _center_in_range(cls, center: list[float]) -> list[float]:
        lon, lat = center
        if -180 <= lon <= 180 and -90 <= lat <= 90:
            return center
        if -180 <= lat <= 180 and -90 <= lon <= 90:
            raise ValueError(swapped_center_message(lon, lat))
        raise ValueError("must be [lon, lat] in degrees: longitude -180..180, latitude -90..90")


AREA_NAME_MAX = 200


class AreaIn(Strict):
    zones: Annotated[list[ZoneSlug], Field(max_length=200)] = []
    name: (
        Annotated[
            str,
            Field(min_length=1, max_length=AREA_NAME_MAX),
            _checked(AREA_NAME_MAX, multiline=False),
        ]
        | None
    ) = Field(
        default=None,
        description="The area in words (CAP areaDesc, the texts' place); "
        "the zones' names when omitted",
    )
    geometry: dict[str, Any] | None = Field(
        default=None,
        description=f"GeoJSON Polygon or MultiPolygon in lon/lat: at most "
        f"{MAX_DRAWN_POSITIONS} positions in all and {MAX_DRAWN_PARTS} parts; its edges must "
        "not cross and every part must have an area",
    )
    circle: CircleIn | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> AreaIn:
        if not self.zones and self.geometry is None and self.circle is None:
            raise ValueError("give at least one of zones, geometry or circle")
        return self


class NoticeIn(Strict):
    """``POST /api/v1/notices``: a new draft."""

    template: Annotated[str, Field(max_length=40)] | None = None
    template_values: Annotated[
        dict[Annotated[str, Field(max_length=40)], TemplateValue],
        Field(max_length=TEMPLATE_VALUES_MAX),
    ] = {}
    category: CategoryName | None = None
    severity: Severity | None = None
    urgency: Urgency | None = None
    certainty: Certainty | None = None
    texts: dict[Language, TextIn] = {}
    area: AreaIn
    onset: Moment | None = None
    expires: Moment | None = None
    next_update: Moment | None = Field(default=None, description=NEXT_UPDATE_DESCRIPTION)
    expected_restoration: Moment | None = Field(default=None, description=RESTORATION_DESCRIPTION)
    channels: list[ChannelName] = list(ALL_CHANNELS)

    # Field validators, not one model validator: a model validator runs only once every
    # field is valid, so an author learnt of an expiry before the onset only after mending
    # a circle's radius. Each sees the fields declared before it that were valid.
    @field_validator("expires")
    @classmethod
    def _expires_after_onset(cls, expires: datetime | None, info: ValidationInfo) -> Any:
        onset = info.data.get("onset")
        if onset and expires and expires <= onset:
            raise ValueError("expires must be after onset")
        return expires

    @field_validator("next_update")
    @classmethod
    def _next_update_in_time(cls, next_update: datetime | None, info: ValidationInfo) -> Any:
        check_times(info.data.get("onset"), info.data.get("expires"), next_update, None)
        return next_update

    @field_validator("expected_restoration")
    @classmethod
    def _restoration_in_time(cls, restoration: datetime | None, info: ValidationInfo) -> Any:
        check_times(info.data.get("onset"), None, None, restoration)
        return restoration

    @field_validator("channels")
    @classmethod
    def _channels_once_each(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels) or not channels:
            raise ValueError("channels must be a non-empty list without repeats")
        return channels


class NoticeChangesIn(Strict):
    """``POST /api/v1/notices/<id>/update``: the fields that change, in the create shape."""

    category: CategoryName | None = None
    severity: Severity | None = None
    urgency: Urgency | None = None
    certainty: Certainty | None = None
    texts: dict[Language, TextIn] | None = None
    area: AreaIn | None = None
    onset: Moment | None = None
    expires: Moment | None = None
    next_update: Moment | None = Field(
        default=None,
        description=NEXT_UPDATE_DESCRIPTION + "; null clears it, omitted keeps a future one",
    )
    expected_restoration: Moment | None = Field(
        default=None,
        description=RESTORATION_DESCRIPTION + "; null clears it, omitted keeps a future one",
    )
    channels: list[ChannelName] | None = None


class EmptyIn(Strict):
    """Actions without parameters accept an empty object and nothing else."""


class RejectIn(Strict):
    reason: Reason


class PublishIn(Strict):
    at: Moment | None = Field(default=None, description="publish later, at this time")
    emergency_reason: Reason | None = Field(
        default=None, description="admins only: publish without a second person's approval"
    )


class CancelIn(Strict):
    texts: dict[Language, TextIn] | None = Field(
        default=None, description="the all-clear; the template's when omitted"
    )


def parse(model: type[Strict], payload: Any) -> Any:
    """Validate ``payload`` against ``model``; raise ValidationFailed naming each field."""
    if payload is None:
        raise ValidationFailed.on("body", "a JSON object is required")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [_field_error(err) for err in exc.errors()]
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from None


def _field_error(err: Any) -> FieldError:
    # pydantic marks a bad mapping key with a trailing "[key]"; the key is the field.
    loc = [str(part) for part in err["loc"] if part != "[key]"]
    field = ".".join(loc) or "body"
    if err["type"] == "extra_forbidden":
        return FieldError(field, "unknown field")
    if err["type"] == "missing":
        return FieldError(field, "is required")
    if "[key]" in [str(part) for part in err["loc"]]:
        return FieldError(field, f"unsupported: {err['msg'].removeprefix('Input should be ')}")
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "value_error" and not loc:
        field = _guess_field(message)
    return FieldError(field, message)


def _guess_field(message: str) -> str:
    """Model-level checks say which field they are about in their first word."""
    first = message.split(" ", 1)[0]
    return (
        first
        if first in {"expires", "channels", "center", "next_update", "expected_restoration"}
        else "body"
    )
