"""Named areas a notice can target: water-supply zones, districts, municipalities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


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
