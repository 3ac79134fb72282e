"""Plain factories for the notice snapshots the pull-channel tests render."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.base import Circle, NoticeSnapshot, NoticeText, RevisionRef

NOTICE_ID = uuid.UUID("7d1f0c52-8a43-4f0e-9d1a-2b5c6e7f8a90")
SENT = datetime(2026, 11, 24, 7, 15, tzinfo=UTC)  # 08:15 in Stockholm

# A small ring around Gesunda (Mora), GeoJSON lon/lat, closed.
GESUNDA_RING_LON_LAT = [
    [14.561234567, 60.876543219],
    [14.601, 60.874],
    [14.612, 60.889],
    [14.588, 60.901],
    [14.559, 60.893],
    [14.561234567, 60.876543219],
]
GESUNDA_POLYGON = {"type": "Polygon", "coordinates": [GESUNDA_RING_LON_LAT]}

HOSTILE_HEADLINE = 'Koka vattnet <script>alert(1)</script> "><img src=x onerror=alert(1)>'


def make_snapshot(**overrides: Any) -> NoticeSnapshot:
    """A first-revision boil-water notice in Swedish and English, with overrides."""
    notice_id = overrides.pop("notice_id", NOTICE_ID)
    revision = overrides.get("revision", 1)
    fields: dict[str, Any] = {
        "notice_id": notice_id,
        "revision": revision,
        "identifier": f"varsla-{notice_id}-{revision}",
        "msg_type": "Alert",
        "status": "active",
        "category": "water",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "texts": {
            "sv": NoticeText(
                headline="Koka vattnet i Gesunda",
                description="Bakterier har hittats i dricksvattnet.",
                instruction="Koka vattnet i minst en minut innan du dricker det.",
            ),
            "en": NoticeText(
                headline="Boil water in Gesunda",
                description="Bacteria have been found in the drinking water.",
                instruction="Boil water for at least one minute before drinking it.",
            ),
        },
        "sent": SENT,
        "updated": SENT,
        "onset": SENT,
        "expires": SENT + timedelta(days=3),
        "area_description": {"sv": "Gesunda", "en": "Gesunda"},
        "area_geojson_lon_lat": GESUNDA_POLYGON,
        "circles": (),
        "zones": ("gesunda",),
        "url": f"https://varsla.example/notices/{notice_id}",
        "cap_url": f"https://varsla.example/cap/{notice_id}/{revision}.xml",
        "sender": "varsla@mora.example",
        "sender_name": "Mora kommun",
    }
    fields.update(overrides)
    return NoticeSnapshot(**fields)


def revise(
    previous: NoticeSnapshot, *, after: timedelta = timedelta(hours=2), **overrides: Any
) -> NoticeSnapshot:
    """The next revision of ``previous`` (an Update unless ``msg_type`` says otherwise)."""
    revision = previous.revision + 1
    when = previous.updated + after
    fields: dict[str, Any] = {
        "revision": revision,
        "identifier": f"varsla-{previous.notice_id}-{revision}",
        "msg_type": "Update",
        "sent": when,
        "updated": when,
        "references": (*previous.references, RevisionRef(previous.identifier, previous.sent)),
        "cap_url": f"https://varsla.example/cap/{previous.notice_id}/{revision}.xml",
    }
    fields.update(overrides)
    return dataclasses.replace(previous, **fields)


def cancel(previous: NoticeSnapshot, **overrides: Any) -> NoticeSnapshot:
    """The all-clear of ``previous``."""
    fields: dict[str, Any] = {
        "msg_type": "Cancel",
        "status": "cancelled",
        "texts": {
            "sv": NoticeText(headline="Vattnet i Gesunda går att dricka igen"),
            "en": NoticeText(headline="Water in Gesunda is safe to drink again"),
        },
    }
    fields.update(overrides)
    return revise(previous, **fields)


def make_circle(**overrides: Any) -> Circle:
    """An 800 m circle around the Gesunda water works."""
    return Circle(**{"lon": 14.5801, "lat": 60.8852, "radius_m": 800.0, **overrides})
