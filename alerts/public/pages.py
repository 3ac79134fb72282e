"""Public pages for residents: current notices with a map, one notice with its history,
the archive with search, and the accessibility statement.

Swedish by default, English with ``?lang=en`` (remembered in the functional
cookie ``lang``, the only cookie these pages set). Pages carry a strict
Content-Security-Policy: scripts only from this origin, no inline script; map
data travels in ``<script type="application/json">`` blocks and the tiles come
from the configured tile server.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from alerts.config import settings
from alerts.extensions import db
from alerts.public import queries as public
from alerts.public.feed_views import retention_days
from alerts.web.templating import current_lang
from channels.banner import ordered, palette_key
from channels.base import NoticeSnapshot
from channels.labels import (
    area_description,
    category_label,
    marked_headline,
    promises,
    severity_label,
    status_label,
)

logger = logging.getLogger(__name__)

bp = Blueprint("public", __name__)

LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600
ARCHIVE_PAGE_SIZE = 20


def tile_source(url: str) -> str:
    """The CSP source of a tile URL template: ``https://{s}.tile.x/…`` -> ``https://*.tile.x``."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def content_security_policy() -> str:
    tiles = tile_source(settings().tile_url)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data:{' ' + tiles if tiles else ''}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


@bp.after_request
def _public_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.vary.add("Cookie")  # the language comes from ?lang, the cookie
    response.vary.add("Accept-Language")  # ... or the browser's languages
    chosen = request.args.get("lang")
    if chosen in ("sv", "en") and request.cookies.get("lang") != chosen:
        # Functional: remembers the reader's language. Nothing else is stored.
        response.set_cookie(
            "lang",
            chosen,
            max_age=LANG_COOKIE_MAX_AGE_S,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    return response


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    lang = current_lang()

    def text(snapshot: NoticeSnapshot):
        return snapshot.text(lang)

    return {
        "lang": lang,
        "other_lang": "en" if lang == "sv" else "sv",
        "text": text,
        "text_lang": lambda s: s.text_language(lang),
        "title_of": lambda s: marked_headline(s, lang),
        "severity_label": lambda s: severity_label(s.severity, lang),
        "category_label": lambda s: category_label(s.category, lang),
        "status_label": lambda s: status_label(s, lang),
        "area_of": lambda s: area_description(s, lang),
        "promises_of": lambda s: promises(s, lang),
        "palette_key": palette_key,
        "switch_lang_url": switch_lang_url,
    }


def switch_lang_url(lang: str) -> str:
    """This page in ``lang`` (keeping its query, e.g. an archive search)."""
    values: dict[str, Any] = {k: v for k, v in request.args.items() if k != "lang"}
    values.update(request.view_args or {}, lang=lang)
    return url_for(request.endpoint or "public.index", **values)


def map_features(snapshots: list[NoticeSnapshot], lang: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the notices' areas for map.js (text as data, never HTML)."""
    features = []
    for snapshot in snapshots:
        if not snapshot.area_geojson_lon_lat:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": snapshot.area_geojson_lon_lat,
                "properties": {
                    "headline": marked_headline(snapshot, lang),
                    "severity": palette_key(snapshot),
                    "severity_label": severity_label(snapshot.severity, lang),
                    "url": url_for("public.notice", notice_id=snapshot.notice_id),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def map_settings() -> dict[str, str]:
    config = settings()
    return {"tile_url": config.tile_url, "tile_attribution": config.tile_attribution}


def subscribe_url() -> str | None:
    """``/subscribe`` when self-service sign-up exists in this app, else None."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/subscribe" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


@bp.get("/")
def index() -> str:
    """Active notices, their areas on a map, recently ended ones, and how to subscribe."""
    lang = current_lang()
    notices = public.public_notices(db.session, include_ended_days=retention_days())
    snapshots = [public.public_snapshot(db.session, n) for n in notices]
    active = ordered(s for s in snapshots if not s.ended)  # most severe first
    ended = [s for s in snapshots if s.ended]
    return render_template(
        "public/index.html",
        active=active,
        ended=ended,
        features=map_features(active, lang),
        map=map_settings(),
        subscribe_url=subscribe_url(),
        retention_days=retention_days(),
    )


@bp.get("/notices/<notice_id>")
def notice(notice_id: str) -> str:
    """One public notice: its text, its area on a map and the timeline of its revisions."""
    lang = current_lang()
    try:
        key = uuid.UUID(notice_id)
    except ValueError:
        abort(404)
    found = public.public_notice(db.session, key)
    if found is None:
        abort(404)
    snapshot = public.public_snapshot(db.session, found)
    timeline = [
        public.public_snapshot(db.session, found, revision)
        for revision in public.published_revisions(found)
    ]
    return render_template(
        "public/notice.html",
        snapshot=snapshot,
        timeline=list(reversed(timeline)),
        features=map_features([snapshot], lang),
        map=map_settings(),
    )


@bp.get("/archive")
def archive() -> str:
    """Every public notice, newest first, with a free-text search (``?q=``) and pages."""
    q = request.args.get("q", "").strip()[:200]
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    result = public.search_archive(db.session, q, page=page, per_page=ARCHIVE_PAGE_SIZE)
    snapshots = [public.public_snapshot(db.session, n) for n in result.notices]
    return render_template("public/archive.html", q=q, result=result, snapshots=snapshots)


@bp.get("/accessibility")
def accessibility() -> str:
    """Tillgänglighetsredogörelse (Swedish DOS law, WCAG 2.1 AA)."""
    return render_template("public/accessibility.html")
