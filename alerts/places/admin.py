"""Looking after places from the console: the zones per municipality, renaming a zone, an
upload checked before it is saved (and kept in the database until its uploader confirms
it), the register's size per municipality, and the record of each import (zones or
addresses, from the console or the CLI).

Each function takes a Session and never commits. The checks and the writing of an import
are :func:`alerts.places.zones.import_zones`'s, run inside a savepoint that is rolled back
for the preview: one home for every rule.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.db import rowcount
from alerts.errors import NotFound, ValidationFailed
from alerts.i18n import N_
from alerts.orm import utcnow
from alerts.places.models import Address, PlaceImport, Zone, ZoneUpload
from alerts.places.zones import ZoneImportError, ZoneImportReport, import_zones
from alerts.text import clean_text
from geodata.crs import lon_lat_to_metric

logger = logging.getLogger(__name__)

MUNICIPALITY = "municipality"
#: Refusals kept with an import's record (the count covers them all).
REFUSALS_KEPT = 50
ZONE_NAME_MAX = 200
#: How long a checked upload waits for its confirmation.
UPLOAD_TTL = timedelta(hours=1)
#: secrets.token_urlsafe(24): 32 characters of the URL-safe base64 alphabet.
UPLOAD_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")


@dataclass
class ZoneUploadPreview:
    """What saving an uploaded file would do, found by doing it and rolling back."""

    report: ZoneImportReport | None = None
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)  # slug, name, kind, geometry

    @property
    def ok(self) -> bool:
        return self.report is not None and not self.problems


def preview_zone_import(
    session: Session, source: str | os.PathLike[str] | bytes, **options: Any
) -> ZoneUploadPreview:
    """Import ``source`` inside a savepoint and roll it back: the report (new, updated,
    repairs per feature) or the refusals, and the zones as they would be; nothing stays."""
    preview = ZoneUploadPreview()
    savepoint = session.begin_nested()
    try:
        preview.report = import_zones(session, source, **options)
        slugs = preview.report.created + preview.report.updated
        preview.zones = [
            {"slug": z.slug, "name": z.name, "kind": z.kind, "geometry": z.geometry}
            for z in session.scalars(select(Zone).where(Zone.slug.in_(slugs)).order_by(Zone.name))
        ]
    except ZoneImportError as exc:
        preview.problems = list(exc.problems)
    finally:
        savepoint.rollback()
    session.expire_all()
    return preview


def keep_upload(
    session: Session,
    operator_id: int,
    filename: str,
    data: bytes,
    options: dict[str, Any],
    *,
    now: datetime | None = None,
) -> str:
    """Keep a checked upload for its confirmation; answers its token. The operator's
    earlier uploads and everyone's older than UPLOAD_TTL are forgotten."""
    now = now or utcnow()
    session.execute(
        delete(ZoneUpload).where(
            (ZoneUpload.operator_id == operator_id) | (ZoneUpload.created_at < now - UPLOAD_TTL)
        )
    )
    token = secrets.token_urlsafe(24)
    session.add(
        ZoneUpload(
            token=token,
            operator_id=operator_id,
            filename=os.path.basename(filename)[:255],
            options=options,
            data=data,
            created_at=now,
        )
    )
    return token


def forget_old_uploads(session: Session, *, now: datetime | None = None) -> int:
    """Delete the uploads nobody confirmed within UPLOAD_TTL (a scheduler job)."""
    now = now or utcnow()
    return rowcount(
        session.execute(delete(ZoneUpload).where(ZoneUpload.created_at < now - UPLOAD_TTL))
    )


def kept_upload(
    session: Session, token: str, operator_id: int, *, now: datetime | None = None
) -> ZoneUpload | None:
    """The upload ``token`` names, if ``operator_id`` uploaded it less than UPLOAD_TTL ago."""
    now = now or utcnow()
    # What keep_upload made, nothing else: a NUL or a megabyte never reaches the database.
    if not UPLOAD_TOKEN.fullmatch(token or ""):
        return None
    upload = session.get(ZoneUpload, token)
    if upload is None or upload.operator_id != operator_id:
        return None
    if upload.created_at < now - UPLOAD_TTL:
        return None
    return upload


def rename_zone(session: Session, slug: str, name: str) -> tuple[Zone, str]:
    """Give the zone ``slug`` a new name (texts, feeds and pages show it; its slug, and with
    it every URL and feed, stays). Answers the zone and its old name."""
    zone = session.scalar(select(Zone).where(Zone.slug == slug))
    if zone is None:
        raise NotFound(N_("Ingen zon med slug %(slug)s"), slug=slug)
    try:
        cleaned = clean_text(name.strip(), max_length=ZONE_NAME_MAX, multiline=False)
    except ValueError as exc:
        raise ValidationFailed.on("name", str(exc)) from None
    if not cleaned:
        raise ValidationFailed.on("name", N_("måste fyllas i"))
    old = zone.name
    zone.name = cleaned
    session.flush()
    session.info.pop("zone_names", None)  # the per-session cache of names (snapshots)
    logger.info("zone %s renamed", slug)
    return zone, old


def area_km2(geometry_lon_lat: dict[str, Any]) -> float:
    """The area of a lon/lat GeoJSON geometry in square kilometres."""
    return float(lon_lat_to_metric(shape(geometry_lon_lat)).area) / 1e6


def municipality_of(zones: Sequence[Zone]) -> dict[str, str | None]:
    """Per zone slug, the name of the municipality zone its representative point lies in
    (a municipality is its own; None when no municipality zone holds it)."""
    municipalities = [z for z in zones if z.kind == MUNICIPALITY]
    shapes = [shape(m.geometry) for m in municipalities]
    found: dict[str, str | None] = {}
    for zone in zones:
        if zone.kind == MUNICIPALITY:
            found[zone.slug] = zone.name
            continue
        point = shape(zone.geometry).representative_point()
        found[zone.slug] = next(
            (m.name for m, s in zip(municipalities, shapes, strict=True) if s.covers(point)),
            None,
        )
    return found


def addresses_per_municipality(session: Session) -> tuple[list[tuple[str, int]], int, int]:
    """Register addresses per municipality zone (by position), the total, and how many lie
    in no municipality zone."""
    total = session.scalar(select(func.count()).select_from(Address)) or 0
    municipalities = list(
        session.scalars(select(Zone).where(Zone.kind == MUNICIPALITY).order_by(Zone.name))
    )
    counts: list[tuple[str, int]] = []
    counted = 0
    for municipality in municipalities:
        rows = session.execute(
            select(Address.lon, Address.lat).where(
                Address.lon.between(municipality.min_lon, municipality.max_lon),
                Address.lat.between(municipality.min_lat, municipality.max_lat),
            )
        ).all()
        inside = 0
        if rows:
            points = np.array(rows, dtype=float).reshape(-1, 2)
            area = shape(municipality.geometry)
            shapely.prepare(area)
            inside = int(shapely.intersects_xy(area, points[:, 0], points[:, 1]).sum())
        counts.append((municipality.name, inside))
        counted += inside
    return counts, total, max(total - counted, 0)


def record_import(
    session: Session,
    kind: str,
    *,
    by: str,
    filename: str,
    created: int,
    updated: int,
    refusals: Sequence[tuple[str, str]] = (),
) -> PlaceImport:
    """Keep the record of one import: ``refusals`` are ``(where, why)`` pairs."""
    entry = PlaceImport(
        kind=kind,
        by=by[:254],
        filename=os.path.basename(filename)[:255] or "-",
        rows=created + updated,
        created=created,
        updated=updated,
        refused=len(refusals),
        refusals=[{"where": w, "why": y} for w, y in list(refusals)[:REFUSALS_KEPT]],
    )
    session.add(entry)
    session.flush()
    return entry


def last_import(session: Session, kind: str) -> PlaceImport | None:
    return session.scalar(
        select(PlaceImport)
        .where(PlaceImport.kind == kind)
        .order_by(PlaceImport.at.desc(), PlaceImport.id.desc())
        .limit(1)
    )
