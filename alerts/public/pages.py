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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    session,
    url_for,
)

from alerts.config import settings
from alerts.extensions import db
from alerts.public import queries as public
from alerts.public.feed_views import current_snapshots, retention_days
from alerts.public.serving import Rendered, serve
from alerts.web.headers import strict_csp
from alerts.web.templating import current_lang, remember_language
from channels.banner import ordered, palette_key
from channels.base import NoticeSnapshot
from channels.feeds import EPOCH
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

ARCHIVE_PAGE_SIZE = 20
#: Current notices shown in full on the home page, most severe first; the rest are one
#: line each (severity, headline, area). At 1,000 current notices every card made the page
#: 858 KB and its first render after a change 341 ms (bench/feeds.py): too heavy for a
#: resident's phone in a crisis, and slow for the first reader after each change.
HOME_CARDS = 50
#: Recently ended notices on the home page; the archive has them all.
HOME_ENDED = 10


def content_security_policy() -> str:
    """The strict policy, but these pages may be framed by this origin."""
    return strict_csp(settings().tile_url, frame_ancestors="'self'")


@bp.after_request
def _public_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.vary.add("Cookie")  # the language comes from ?lang, the cookie
    response.vary.add("Accept-Language")  # ... or the browser's languages
    return remember_language(response)


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


PAGE_MAX_AGE_S = 60


def _cached_page(variant: tuple, render: Callable[[datetime], tuple[str, datetime]]) -> Response:
    """A page from bytes rendered once per content change and language (see
    ``alerts.public.serving``). A reader with a message waiting (flashed after
    a form) gets a fresh page: cached bytes never hold one reader's message."""
    lang = current_lang()
    args = tuple(sorted((k, v) for k, v in request.args.items(multi=True) if k != "lang"))
    if "_flashes" in session:
        html, _ = render(datetime.now(UTC))
        return Response(html, content_type="text/html; charset=utf-8")

    def rendered(now: datetime) -> Rendered:
        html, modified = render(now)
        return Rendered(html.encode("utf-8"), modified, max_age=PAGE_MAX_AGE_S)

    return serve((*variant, lang, args), "text/html", rendered, cors=False, by_cookie=True)


@bp.get("/")
def index() -> Response:
    """Active notices, their areas on a map, recently ended ones, and how to subscribe."""

    def render(now: datetime) -> tuple[str, datetime]:
        lang = current_lang()
        snapshots = current_snapshots(now)
        active = ordered(s for s in snapshots if not s.ended)  # most severe first
        ended = [s for s in snapshots if s.ended]
        html = render_template(
            "public/index.html",
            active=active,
            cards=active[:HOME_CARDS],
            more=active[HOME_CARDS:],
            ended=ended[:HOME_ENDED],
            more_ended=len(ended) > HOME_ENDED,
            features=map_features(active, lang),
            map=map_settings(),
            subscribe_url=subscribe_url(),
            retention_days=retention_days(),
            zones=public.zone_entries(db.session),
        )
        return html, max((s.updated for s in snapshots), default=EPOCH)

    return _cached_page(("page", "index"), render)


@bp.get("/notices/<notice_id>")
def notice(notice_id: str) -> Response:
    """One public notice: its text, its area on a map and the timeline of its revisions."""
    try:
        key = uuid.UUID(notice_id)
    except ValueError:
        abort(404)

    def render(now: datetime) -> tuple[str, datetime]:
        lang = current_lang()
        found = public.public_notice(db.session, key)
        if found is None:
            abort(404)
        snapshot = public.public_snapshot(db.session, found, now=now)
        timeline = [
            public.public_snapshot(db.session, found, revision, now=now)
            for revision in public.published_revisions(found)
        ]
        html = render_template(
            "public/notice.html",
            snapshot=snapshot,
            timeline=list(reversed(timeline)),
            features=map_features([snapshot], lang),
            map=map_settings(),
        )
        return html, snapshot.updated

    return _cached_page(("page", "notice", key), render)


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
    """Tillgänglighetsredogörelse (Swedish DOS law, WCAG 2.1 AA), naming who runs the
    service and how to reach them (``VARSLA_ORG_NAME``, ``VARSLA_ORG_CONTACT``)."""
    config = settings()
    return render_template(
        "public/accessibility.html", org_name=config.org_name, org_contact=config.org_contact
    )
