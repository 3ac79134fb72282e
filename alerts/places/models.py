"""Places: named areas a notice can target (water-supply zones, districts, municipalities)
and the address register residents subscribe by (Lantmäteriet / OpenAddresses style)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from alerts.orm import Base, utcnow


class Zone(Base):
    __tablename__ = "zones"
    # "Which zones contain this point" prefilters on the bounding box in SQL.
    __table_args__ = (Index("ix_zones_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(50), default="zone")
    # GeoJSON (lon/lat, WGS 84) of the full geometry; the bounding box beside it
    # lets SQL prefilter without a spatial extension, the same on SQLite and PostgreSQL.
    geometry: Mapped[dict[str, Any]]
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Address(Base):
    __tablename__ = "addresses"
    __table_args__ = (
        # Lookup by normalised street, then number and letter ("Storgatan 12 B").
        Index("ix_addresses_street_key_number", "street_key", "number", "letter"),
        Index("ix_addresses_lon_lat", "lon", "lat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    street: Mapped[str] = mapped_column(String(200))
    number: Mapped[int | None]
    letter: Mapped[str] = mapped_column(String(10), default="")  # letter or entrance: "B"
    postcode: Mapped[str] = mapped_column(String(5), default="", index=True)  # "59130"
    city: Mapped[str] = mapped_column(String(100), default="")
    street_key: Mapped[str] = mapped_column(String(200))  # geodata.address_text.street_key
    city_key: Mapped[str] = mapped_column(String(100), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    source_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlaceImport(Base):
    """One import of zones or of the address register: when, by whom, which file, what came
    of it (the console shows the latest; the CLI and the console both record theirs)."""

    __tablename__ = "place_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # "zones" or "addresses"
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(254))  # an operator's email, or "CLI"
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(default=0)  # written (created or updated)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    # The first refusals in words: [{"where": "line 12", "why": "..."}].
    refusals: Mapped[list[Any]] = mapped_column(default=list)


class ZoneUpload(Base):
    """A zone file an administrator uploaded and saw checked, kept until they confirm it.

    In the database rather than on the web host's disk, so the confirming request may
    land on any web process or host; forgotten after an hour (alerts.places.admin).
    """

    __tablename__ = "zone_uploads"

    # secrets.token_urlsafe(24): unguessable, and only its uploader may confirm it.
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
