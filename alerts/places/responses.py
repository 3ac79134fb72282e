"""What the place lookups answer: zones, address suggestions, the zones at a point.

Class names are the schema names in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from alerts.web.responses import OutputModel, Page
from geodata.address_search import MatchKind


class Zone(OutputModel):
    """A zone a notice can target."""

    slug: str
    name: str
    kind: str
    bbox: Annotated[
        list[float],
        Field(min_length=4, max_length=4, description="[min_lon, min_lat, max_lon, max_lat]"),
    ]


class ZoneWithGeometry(Zone):
    """A zone with its outline."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon in lon/lat")


class AddressSuggestion(OutputModel):
    """An address in the register that matches what was typed."""

    id: int = Field(description="Pass as address_id when subscribing")
    label: str = Field(description="As people write it: Storgatan 12 B, 591 30 Motala")
    street: str
    number: int | None
    letter: str = Field(description="Letter or entrance; empty when none")
    postcode: str = Field(description="Five digits, or empty")
    city: str
    lon: float
    lat: float
    match: MatchKind = Field(description="How the street matched what was typed")
    zones: list[str] = Field(description="Slugs of the zones the address lies in")


class ZonePage(Page[Zone]):
    """Zones, by name."""


class AddressSuggestions(Page[AddressSuggestion]):
    """Address suggestions, best match first, all on one page."""
