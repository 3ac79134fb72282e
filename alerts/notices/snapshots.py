"""Notice revisions as channels see them (``channels.base.NoticeSnapshot``)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from flask import has_app_context
from shapely.geometry import mapping, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.notices.models import Notice, NoticeRevision, RevisionState
from alerts.places.models import Zone
from alerts.text import showable
from channels.base import Circle, NoticeSnapshot, NoticeText, RevisionRef
from geodata.areas import simplify_for_transport

AREA_ON_MAP = {"sv": "Område markerat på karta", "en": "Area marked on a map"}


@lru_cache(maxsize=4096)
def _transport_area(revision_id: int, area_json: str) -> dict[str, Any]:
    """The revision's area simplified to at most 250 points (cached: published content is fixed)."""
    return mapping(simplify_for_transport(shape(json.loads(area_json))))


def transport_area(revision: NoticeRevision) -> dict[str, Any] | None:
    if not revision.area_geojson:
        return None
    return _transport_area(revision.id, json.dumps(revision.area_geojson, sort_keys=True))


def zone_names(session: Session, slugs: list[str]) -> dict[str, str]:
    """Names of the zones ``slugs``. All zone names are read once per session: a feed of a
    thousand notices would otherwise ask the database a thousand times."""
    if not slugs:
        return {}
    names = session.info.get("zone_names")
    if names is None or any(slug not in names for slug in slugs):
        names = dict(session.execute(select(Zone.slug, Zone.name)).all())
        session.info["zone_names"] = names
    return {slug: names[slug] for slug in slugs if slug in names}


def _settings() -> tuple[str, str, str]:
    if has_app_context():
        config = settings()
        host = config.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        return config.base_url, f"varsla@{host}", config.sender_name
    return "http://localhost", "varsla@localhost", "Varsla"


def build_snapshot(
    session: Session,
    notice: Notice,
    revision: NoticeRevision | None = None,
    *,
    exercise: bool = False,
) -> NoticeSnapshot:
    """The snapshot of ``revision`` (default: what the notice says now).

    ``exercise``: the copy a training run sends the test group. Every text says it is an
    exercise, CAP says ``Exercise``, and its link is the notice's console page: an exercise
    is usually of a draft, which has no public page, and the test group are staff.
    """
    revision = revision or notice.current_revision
    base_url, sender, sender_name = _settings()
    names = zone_names(session, revision.zone_slugs)
    described = revision.area_request.get("name") or ", ".join(
        names.get(s, s) for s in revision.zone_slugs
    )
    earlier = [
        r
        for r in notice.revisions
        if r.number < revision.number and r.state == RevisionState.PUBLISHED and r.published_at
    ]
    circle = revision.area_request.get("circle")
    circles = (
        (Circle(circle["center"][0], circle["center"][1], float(circle["radius_m"])),)
        if circle
        else ()
    )
    sent = revision.published_at or revision.created_at
    return NoticeSnapshot(
        notice_id=notice.id,
        revision=revision.number,
        identifier=revision.identifier,
        msg_type=revision.msg_type,
        status=notice.status,
        category=revision.category,
        severity=revision.severity,
        urgency=revision.urgency,
        certainty=revision.certainty,
        # showable(): text stored before the edge checked it must not break a feed for all.
        texts={
            lang: NoticeText(
                showable(t.get("headline", "")),
                showable(t.get("description", "")),
                showable(t.get("instruction", "")),
            )
            for lang, t in revision.texts.items()
        },
        sent=sent,
        updated=max(sent, notice.ended_at) if notice.ended_at else sent,
        onset=revision.onset,
        expires=revision.expires,
        next_update=revision.next_update,
        expected_restoration=revision.expected_restoration,
        area_description={lang: described or AREA_ON_MAP[lang] for lang in AREA_ON_MAP},
        area_geojson_lon_lat=transport_area(revision),
        circles=circles,
        zones=tuple(revision.zone_slugs),
        references=tuple(
            RevisionRef(r.identifier, r.published_at) for r in earlier if r.published_at
        ),
        url=f"{base_url}/console/notices/{notice.id}"
        if exercise
        else f"{base_url}/notices/{notice.id}",
        cap_url=f"{base_url}/cap/{notice.id}/{revision.number}.xml",
        sender=sender,
        sender_name=sender_name,
        exercise=exercise,
    )
