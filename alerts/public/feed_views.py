"""Pull channels over HTTP: RSS/Atom feeds, CAP 1.2 documents and their Atom index,
``banner.js`` and the ``/banner`` iframe fragment.

Views pick notices with :mod:`alerts.public`, turn them into snapshots and
hand them to the renderers in :mod:`channels`. Every answer carries
``ETag``/``Last-Modified`` and ``Cache-Control`` and turns into a 304 when the
poller already has it. Rendered feeds are kept in a small per-process cache
keyed on the content state of the database (see
:func:`alerts.public.content_state`), so a change is never served stale and
a poller's repeat costs one aggregate query.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, abort, current_app, request

from alerts.config import settings
from alerts.extensions import db
from alerts.notices.models import Category, Notice
from alerts.public import queries as public
from channels.banner import banner_js, render_banner_html
from channels.base import ui_language
from channels.cap import CAP_MEDIA_TYPE, render_cap
from channels.feeds import (
    ATOM_MEDIA_TYPE,
    EPOCH,
    RSS_MEDIA_TYPE,
    FeedInfo,
    feed_urn,
    feed_validators,
    last_modified,
    render_atom,
    render_cap_index,
    render_rss,
)

logger = logging.getLogger(__name__)

bp = Blueprint("feeds", __name__)

MAX_AGE_S = 60
BANNER_JS_MAX_AGE_S = 300
CACHE_SIZE = 256
CATEGORIES = frozenset(c.value for c in Category)

TITLES = {
    "sv": ("Varsla – aktuella störningar", "Störningar och meddelanden från {sender}"),
    "en": ("Varsla – current notices", "Disruptions and notices from {sender}"),
}
CAP_TITLES = {"sv": "Varsla – CAP-meddelanden", "en": "Varsla – CAP messages"}


class RenderCache:
    """A small, thread-safe LRU of rendered bodies: ``key -> (body, etag, last_modified)``."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple, tuple[bytes, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(
        self, key: tuple, render: Callable[[], tuple[bytes, datetime]]
    ) -> tuple[bytes, str, str]:
        """The cached entry for ``key``, rendering (``body, last_modified``) on a miss."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        body, modified = render()
        etag, http_date = feed_validators(body, modified)
        with self._lock:
            self._items[key] = (body, etag, http_date)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return body, etag, http_date


def render_cache(app: Flask | None = None) -> RenderCache:
    """The app's render cache (one per process)."""
    app = app or current_app
    return app.extensions.setdefault("varsla_render_cache", RenderCache())


def retention_days() -> float:
    return settings().feed_retention_days


def base_url() -> str:
    return settings().base_url


def conditional(
    body: bytes,
    mimetype: str,
    *,
    etag: str,
    last_modified_http: str | None = None,
    max_age: int = MAX_AGE_S,
    cors: bool = True,
) -> Response:
    """A cacheable response that turns into 304 when the request's validators match."""
    response = Response(body, content_type=f"{mimetype}; charset=utf-8")
    response.headers["ETag"] = etag
    if last_modified_http:
        response.headers["Last-Modified"] = last_modified_http
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    if cors:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.make_conditional(request)
    return response


def cached_response(
    variant: tuple, mimetype: str, render: Callable[[], tuple[bytes, datetime]], **kw
) -> Response:
    """Serve ``render()`` through the cache, keyed on ``variant`` and the content state.

    ``Last-Modified`` is the newest of the body's own date, the last change to
    any public notice and the moment the last ended notice left the window: a
    list can change by losing an entry (an all-clear leaves the banner, an
    update moves a notice out of a zone), and a poller that sends only
    ``If-Modified-Since`` must not get a 304 then. (``If-None-Match``, which
    takes precedence, compares the exact bytes.)
    """
    state = public.content_state(db.session, include_ended_days=retention_days())

    def render_with_floor() -> tuple[bytes, datetime]:
        body, modified = render()
        dropped = public.last_dropped_at(db.session, include_ended_days=retention_days())
        floor = max((t for t in (modified, state.newest_change, dropped) if t), default=EPOCH)
        return body, floor.astimezone(UTC).replace(microsecond=0)

    body, etag, http_date = render_cache().get_or_render((*variant, state), render_with_floor)
    return conditional(body, mimetype, etag=etag, last_modified_http=http_date, **kw)


def requested_lang() -> str:
    """``?lang=sv|en`` (Swedish when absent or unknown)."""
    return ui_language(request.args.get("lang", "sv"))


def requested_category() -> str | None:
    category = request.args.get("category") or None
    if category is not None and category not in CATEGORIES:
        abort(400, f"category must be one of {', '.join(sorted(CATEGORIES))}")
    return category


def _feed_info(kind: str, zone_slug: str | None, category: str | None, lang: str) -> FeedInfo:
    title, subtitle = TITLES[lang]
    sender = settings().sender_name
    key = f"zones/{zone_slug}" if zone_slug else "notices"
    alternate = f"{base_url()}/"
    if zone_slug:
        zone = public.get_zone(db.session, zone_slug)
        title = f"{title} – {zone.name}"
    if category:
        key += f"?category={category}"
    query = "&".join(
        f"{name}={value}" for name, value in (("category", category), ("lang", lang)) if value
    )
    return FeedInfo(
        title=title,
        feed_id=feed_urn(f"{key}#{lang}"),
        self_url=f"{base_url()}{request.path}?{query}",
        alternate_url=alternate,
        subtitle=subtitle.format(sender=sender),
        author_name=sender,
    )


def _feed(kind: str, zone_slug: str | None) -> Response:
    lang = requested_lang()
    category = requested_category()
    if zone_slug is not None:
        try:
            public.get_zone(db.session, zone_slug)
        except public.UnknownZone:
            abort(404, "No such zone")

    def render() -> tuple[bytes, datetime]:
        notices = public.public_notices(
            db.session, zone=zone_slug, category=category, include_ended_days=retention_days()
        )
        snapshots = [public.public_snapshot(db.session, n) for n in notices]
        feed = _feed_info(kind, zone_slug, category, lang)
        renderer = render_rss if kind == "rss" else render_atom
        return renderer(snapshots, feed=feed, lang=lang), last_modified(snapshots, feed)

    mimetype = RSS_MEDIA_TYPE if kind == "rss" else ATOM_MEDIA_TYPE
    return cached_response(("feed", kind, zone_slug, category, lang), mimetype, render)


@bp.get("/feeds/notices.<any(rss, atom):kind>")
def notices_feed(kind: str) -> Response:
    """All current notices (and those ended within the retention window)."""
    return _feed(kind, None)


@bp.get("/feeds/zones/<slug>.<any(rss, atom):kind>")
def zone_feed(slug: str, kind: str) -> Response:
    """One zone's notices: those naming the zone or with an area overlapping it."""
    return _feed(kind, slug)


@bp.get("/feeds/cap.atom")
def cap_index() -> Response:
    """Atom index of the CAP documents, one entry per published revision (OASIS CAP feed)."""
    lang = requested_lang()

    def render() -> tuple[bytes, datetime]:
        snapshots = [
            public.public_snapshot(db.session, notice, revision)
            for notice in public.public_notices(db.session, include_ended_days=retention_days())
            for revision in public.published_revisions(notice)
        ]
        feed = FeedInfo(
            title=CAP_TITLES[lang],
            feed_id=feed_urn(f"cap#{lang}"),
            self_url=f"{base_url()}/feeds/cap.atom" + ("?lang=en" if lang == "en" else ""),
            alternate_url=f"{base_url()}/",
            author_name=settings().sender_name,
        )
        body = render_cap_index(snapshots, feed=feed, lang=lang)
        return body, last_modified(snapshots, feed)

    return cached_response(("cap-index", lang), ATOM_MEDIA_TYPE, render)


def _public_notice_or_404(notice_id: str) -> Notice:
    try:
        key = uuid.UUID(notice_id)
    except ValueError:
        abort(404, "No such notice")
    notice = public.public_notice(db.session, key)
    if notice is None:
        abort(404, "No such notice")
    return notice


def _cap_response(notice: Notice, number: int | None) -> Response:
    revisions = public.published_revisions(notice)
    revision = revisions[-1] if number is None else public.public_revision(notice, number)
    if revision is None:
        abort(404, "No such published revision")
    snapshot = public.public_snapshot(db.session, notice, revision)
    body = render_cap(snapshot)
    etag, http_date = feed_validators(body, snapshot.sent)
    return conditional(body, CAP_MEDIA_TYPE, etag=etag, last_modified_http=http_date)


@bp.get("/cap/<notice_id>.xml")
def cap_latest(notice_id: str) -> Response:
    """The CAP 1.2 message of the notice's latest published revision."""
    return _cap_response(_public_notice_or_404(notice_id), None)


@bp.get("/cap/<notice_id>/<int:revision>.xml")
def cap_revision(notice_id: str, revision: int) -> Response:
    """The CAP 1.2 message of one published revision (Update/Cancel reference the earlier)."""
    return _cap_response(_public_notice_or_404(notice_id), revision)


_BANNER_JS: tuple[bytes, str] | None = None


@bp.get("/banner.js")
def banner_script() -> Response:
    """The embeddable banner script (no cookies; served to any origin)."""
    global _BANNER_JS
    if _BANNER_JS is None:
        body = banner_js()
        _BANNER_JS = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    body, etag = _BANNER_JS
    response = conditional(body, "text/javascript", etag=etag, max_age=BANNER_JS_MAX_AGE_S)
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def place_from_request() -> tuple[str | None, float | None, float | None]:
    """``?zone=`` and/or ``?lat=&lon=`` (WGS 84); a malformed or half point is a 400."""
    zone = request.args.get("zone") or None
    lat_text, lon_text = request.args.get("lat"), request.args.get("lon")
    if (lat_text is None) != (lon_text is None):
        abort(400, "give both lat and lon")
    lat = lon = None
    if lat_text is not None and lon_text is not None:
        try:
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            abort(400, "lat and lon must be decimal degrees (WGS 84)")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            abort(400, "lat must be within ±90 and lon within ±180")
    return zone, lon, lat


def active_snapshots(zone: str | None, lon: float | None, lat: float | None):
    """Snapshots of the active notices for a place; an unknown zone is a 404."""
    try:
        notices = public.active_for_place(db.session, zone=zone, lon=lon, lat=lat)
    except public.UnknownZone:
        abort(404, "No such zone")
    return [public.public_snapshot(db.session, n) for n in notices]


BANNER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors *"
)


@bp.get("/banner")
def banner_fragment() -> Response:
    """The banner as a self-contained HTML document for an iframe on any site."""
    zone, lon, lat = place_from_request()
    lang = requested_lang()

    def render() -> tuple[bytes, datetime]:
        snapshots = active_snapshots(zone, lon, lat)
        body = render_banner_html(snapshots, lang, base_url=base_url()).encode("utf-8")
        modified = max((s.updated for s in snapshots), default=EPOCH)
        return body, modified

    response = cached_response(("banner", zone, lon, lat, lang), "text/html", render, cors=False)
    response.headers["Content-Security-Policy"] = BANNER_CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
