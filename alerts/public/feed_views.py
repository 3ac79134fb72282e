"""Pull channels over HTTP: RSS/Atom feeds (current and RFC 5005 archives), CAP 1.2
documents and their Atom index, ``banner.js`` and the ``/banner`` iframe fragment.

Views pick notices with :mod:`alerts.public.readpath`, and hand snapshots to the
renderers in :mod:`channels`. Answers come from bytes rendered once per content
change (:func:`alerts.public.serving.serve`): a poller's repeat costs one
version query and turns into a 304 when it already has the ETag.

Feeds are bounded: the current document holds the active notices and those
ended within the retention window, newest change first, up to
``MAX_FEED_BYTES``; every other public notice is in an archive document. Archive
documents cut the public notices, in publication order, into fixed slots of
``ARCHIVE_PAGE_SIZE``: page *n* holds the notices of slot *n* that are not in the
current document, so a page's membership only changes while one of its notices
is current, and a full page whose notices have all ended long ago never changes
(``Cache-Control: immutable``). Every public notice is in exactly one document,
reachable from the current one through ``prev-archive`` links.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, abort, request

from alerts.config import settings
from alerts.extensions import db
from alerts.notices.models import Category, Notice
from alerts.public import queries as public
from alerts.public import readpath
from alerts.public.serving import MAX_AGE_S, Rendered, read_cache, serve
from channels.banner import banner_js, render_banner_html
from channels.base import NoticeSnapshot, ui_language
from channels.cap import CAP_MEDIA_TYPE, render_cap
from channels.feeds import (
    ATOM_MEDIA_TYPE,
    EPOCH,
    RSS_MEDIA_TYPE,
    FeedInfo,
    atom_document,
    atom_entry,
    cap_index_entry,
    feed_urn,
    last_modified,
    rss_document,
    rss_item,
)

logger = logging.getLogger(__name__)

bp = Blueprint("feeds", __name__)

BANNER_JS_MAX_AGE_S = 300
ARCHIVE_MAX_AGE_S = 24 * 3600
#: Google Public Alerts takes feeds of at most 900 KB; the head and tail fit in the rest.
MAX_FEED_BYTES = 900_000
ENTRY_BUDGET_BYTES = MAX_FEED_BYTES - 4_000
ARCHIVE_PAGE_SIZE = 100
CATEGORIES = frozenset(c.value for c in Category)

TITLES = {
    "sv": ("Varsla – aktuella störningar", "Störningar och meddelanden från {sender}"),
    "en": ("Varsla – current notices", "Disruptions and notices from {sender}"),
}
CAP_TITLES = {"sv": "Varsla – CAP-meddelanden", "en": "Varsla – CAP messages"}


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


def requested_lang() -> str:
    """``?lang=sv|en`` (Swedish when absent or unknown)."""
    return ui_language(request.args.get("lang", "sv"))


def requested_category() -> str | None:
    category = request.args.get("category") or None
    if category is not None and category not in CATEGORIES:
        abort(400, f"category must be one of {', '.join(sorted(CATEGORIES))}")
    return category


def _query(category: str | None, lang: str) -> str:
    query = "&".join(
        f"{name}={value}"
        for name, value in (("category", category), ("lang", lang if lang != "sv" else None))
        if value
    )
    return f"?{query}" if query else ""


@dataclass(frozen=True)
class Doc:
    """One kind of bounded document: a notice feed (RSS or Atom) or the CAP index."""

    kind: str  # "rss", "atom" or "cap"
    zone: str | None = None
    category: str | None = None

    @property
    def mimetype(self) -> str:
        return RSS_MEDIA_TYPE if self.kind == "rss" else ATOM_MEDIA_TYPE

    def path(self, page: int | None = None) -> str:
        """The current document's path, or archive page ``page``'s."""
        if self.kind == "cap":
            return "/feeds/cap.atom" if page is None else f"/feeds/cap/archive/{page}.atom"
        stem = f"/feeds/zones/{self.zone}" if self.zone else "/feeds/notices"
        return f"{stem}.{self.kind}" if page is None else f"{stem}/archive/{page}.{self.kind}"


@dataclass(frozen=True)
class Plan:
    """Which public notices a document kind shows where (see the module docstring)."""

    pages: int  # archive pages
    slot: Callable[[int], list[readpath.Row]]  # archive page n's slot, in publication order
    current: list[readpath.Row]  # the current document's, newest change first
    entries: dict[uuid.UUID, list[tuple[tuple, bytes]]]  # rendered, with their sort keys


def _pages(count: int) -> int:
    return -(-count // ARCHIVE_PAGE_SIZE)


def _entries(
    doc: Doc, lang: str, row: readpath.Row, stored: readpath.Stored, now: datetime
) -> list[tuple[tuple, bytes]]:
    """A notice's entries in ``doc`` with their sort keys (bytes kept with the notice)."""
    overdue = row.overdue(now)
    if doc.kind == "cap":
        out = []
        for snapshot in readpath.revisions_as_of(stored, row, now):
            body = readpath.rendered(
                stored,
                ("cap", lang, snapshot.revision, overdue),
                lambda s=snapshot: cap_index_entry(s, lang),  # type: ignore[misc]
            )
            out.append(((snapshot.sent, str(snapshot.notice_id), snapshot.revision), body))
        return out
    snapshot = readpath.as_of(stored, row, now)
    renderer = rss_item if doc.kind == "rss" else atom_entry
    body = readpath.rendered(stored, (doc.kind, lang, overdue), lambda: renderer(snapshot, lang))
    return [((snapshot.updated, str(snapshot.notice_id)), body)]


def _plan(doc: Doc, lang: str, now: datetime) -> Plan:
    cache = read_cache()
    key = ("plan", doc, lang)
    plan = cache.memo.get(key)
    if plan is not None:
        return plan
    session = db.session
    version = cache.generation(now).version
    current = current_rows(now)
    if doc.category:
        current = [r for r in current if r.category == doc.category]
    category = doc.category
    if doc.zone:
        zone = public.get_zone(session, doc.zone)
        ranked = readpath.all_public_rows(session, category=category)
        placed = cache.store.get(session, ranked, version.zones_changed)
        ranked = [
            r for r in ranked if r.id in placed and public.in_zone(placed[r.id].placement, zone)
        ]
        inside = {r.id for r in ranked}
        current = [r for r in current if r.id in inside]
        pages = _pages(len(ranked))

        def slot(n: int) -> list[readpath.Row]:
            return ranked[(n - 1) * ARCHIVE_PAGE_SIZE : n * ARCHIVE_PAGE_SIZE]

    else:
        pages = _pages(readpath.public_count(session, category=category))

        def slot(n: int) -> list[readpath.Row]:
            return readpath.all_public_rows(
                db.session,
                category=category,
                offset=(n - 1) * ARCHIVE_PAGE_SIZE,
                limit=ARCHIVE_PAGE_SIZE,
            )

    stored = cache.store.get(session, current, version.zones_changed)
    current = [r for r in current if r.id in stored]
    rendered = {r.id: _entries(doc, lang, r, stored[r.id], now) for r in current}
    # Newest change first; the budget cuts the oldest changes off into the archive.
    newest = {r.id: max(k for k, _ in rendered[r.id]) for r in current}
    if doc.kind != "cap":
        current.sort(key=lambda r: newest[r.id], reverse=True)
    else:
        current.sort(
            key=lambda r: (readpath.as_of(stored[r.id], r, now).updated, str(r.id)), reverse=True
        )
    kept, size = [], 0
    for row in current:
        size += sum(len(body) for _, body in rendered[row.id])
        if size > ENTRY_BUDGET_BYTES:
            break
        kept.append(row)
    if len(kept) < len(current):
        logger.warning(
            "%s: %d current notices over %d bytes went to the archive",
            doc.path(),
            len(current) - len(kept),
            MAX_FEED_BYTES,
        )
    plan = Plan(pages, slot, list(kept), {r.id: rendered[r.id] for r in kept})
    cache.memo[key] = plan
    return plan


def _info(doc: Doc, lang: str, page: int | None, pages: int) -> FeedInfo:
    base, query = base_url(), _query(doc.category, lang)
    sender = settings().sender_name
    if doc.kind == "cap":
        title, subtitle, key = CAP_TITLES[lang], "", "cap"
        query = "?lang=en" if lang == "en" else ""
    else:
        title, subtitle = TITLES[lang]
        subtitle = subtitle.format(sender=sender)
        key = f"zones/{doc.zone}" if doc.zone else "notices"
        if doc.zone:
            title = f"{title} – {public.get_zone(db.session, doc.zone).name}"
        if doc.category:
            key += f"?category={doc.category}"
    # The current document's prev-archive is the newest archive page.
    previous = (page or pages + 1) - 1
    return FeedInfo(
        title=title if page is None else f"{title} ({page}/{pages})",
        feed_id=feed_urn(f"{key}#{lang}"),
        self_url=f"{base}{doc.path(page)}{query}",
        alternate_url=f"{base}/",
        subtitle=subtitle,
        author_name=sender,
        current_url=f"{base}{doc.path()}{query}" if page is not None else "",
        prev_archive_url=f"{base}{doc.path(previous)}{query}" if previous >= 1 else "",
        next_archive_url=f"{base}{doc.path(page + 1)}{query}"
        if page is not None and page < pages
        else "",
        archive=page is not None,
    )


def _document(doc: Doc, lang: str, page: int | None) -> Response:
    if doc.zone is not None:
        try:
            public.get_zone(db.session, doc.zone)
        except public.UnknownZone:
            abort(404, "No such zone")

    def render(now: datetime) -> Rendered:
        plan = _plan(doc, lang, now)
        if page is None:
            entries = [entry for row in plan.current for entry in plan.entries[row.id]]
            final = False
        else:
            if not 1 <= page <= plan.pages:
                abort(404, "No such archive page")
            slot = plan.slot(page)
            shown = set(plan.entries)
            members = [r for r in slot if r.id not in shown]
            stored = read_cache().store.get(
                db.session, members, read_cache().generation(now).version.zones_changed
            )
            entries = [
                e
                for r in members
                if r.id in stored
                for e in _entries(doc, lang, r, stored[r.id], now)
            ]
            final = len(slot) == ARCHIVE_PAGE_SIZE and all(
                r.final(now, retention_days()) for r in slot
            )
        entries.sort(key=lambda e: e[0], reverse=True)
        info = _info(doc, lang, page, plan.pages)
        updated = max((key[0] for key, _ in entries), default=info.updated_when_empty)
        updated = last_modified([], info) if not entries else updated
        build = rss_document if doc.kind == "rss" else atom_document
        body = build(info, lang, [body for _, body in entries], updated)
        if final:
            return Rendered(body, updated, max_age=ARCHIVE_MAX_AGE_S, immutable=True)
        return Rendered(body, updated)

    variant = ("doc", doc, lang, page)
    return serve(variant, doc.mimetype, render)


@bp.get("/feeds/notices.<any(rss, atom):kind>")
def notices_feed(kind: str) -> Response:
    """Current notices (and those ended within the retention window), at most 900 KB."""
    return _document(Doc(kind, None, requested_category()), requested_lang(), None)


@bp.get("/feeds/notices/archive/<int:page>.<any(rss, atom):kind>")
def notices_archive(page: int, kind: str) -> Response:
    """RFC 5005 archive page ``page`` (1 = oldest) of the notices feed."""
    return _document(Doc(kind, None, requested_category()), requested_lang(), page)


@bp.get("/feeds/zones/<slug>.<any(rss, atom):kind>")
def zone_feed(slug: str, kind: str) -> Response:
    """One zone's notices: those naming the zone or with an area overlapping it."""
    return _document(Doc(kind, slug, requested_category()), requested_lang(), None)


@bp.get("/feeds/zones/<slug>/archive/<int:page>.<any(rss, atom):kind>")
def zone_archive(slug: str, page: int, kind: str) -> Response:
    """RFC 5005 archive page ``page`` of one zone's feed."""
    return _document(Doc(kind, slug, requested_category()), requested_lang(), page)


@bp.get("/feeds/cap.atom")
def cap_index() -> Response:
    """Atom index of the CAP documents, one entry per published revision (OASIS CAP feed)."""
    return _document(Doc("cap"), requested_lang(), None)


@bp.get("/feeds/cap/archive/<int:page>.atom")
def cap_archive(page: int) -> Response:
    """RFC 5005 archive page ``page`` of the CAP index."""
    return _document(Doc("cap"), requested_lang(), page)


def _public_notice_or_404(notice_id: str) -> Notice:
    try:
        key = uuid.UUID(notice_id)
    except ValueError:
        abort(404, "No such notice")
    notice = public.public_notice(db.session, key)
    if notice is None:
        abort(404, "No such notice")
    return notice


def _cap_response(notice_id: str, number: int | None) -> Response:
    """Through the read cache, as the feeds: CAP consumers poll these documents too, and
    a hit (or a 304) needs neither a query nor lxml."""

    def render(now: datetime) -> Rendered:
        notice = _public_notice_or_404(notice_id)
        revisions = public.published_revisions(notice)
        revision = revisions[-1] if number is None else public.public_revision(notice, number)
        if revision is None:
            abort(404, "No such published revision")
        snapshot = public.public_snapshot(db.session, notice, revision)
        return Rendered(render_cap(snapshot), snapshot.sent)

    return serve(("cap-document", notice_id, number), CAP_MEDIA_TYPE, render)


@bp.get("/cap/<notice_id>.xml")
def cap_latest(notice_id: str) -> Response:
    """The CAP 1.2 message of the notice's latest published revision."""
    return _cap_response(notice_id, None)


@bp.get("/cap/<notice_id>/<int:revision>.xml")
def cap_revision(notice_id: str, revision: int) -> Response:
    """The CAP 1.2 message of one published revision (Update/Cancel reference the earlier)."""
    return _cap_response(notice_id, revision)


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


def active_stored(
    zone: str | None, lon: float | None, lat: float | None, now: datetime
) -> list[readpath.Stored]:
    """The kept active notices for a place, newest first; an unknown zone is a 404.

    A notice whose expiry has passed is left out even before the expiry job marks it.
    """
    session = db.session
    try:
        the_zone = public.get_zone(session, zone) if zone is not None else None
    except public.UnknownZone:
        abort(404, "No such zone")
    cache = read_cache()
    rows = [r for r in current_rows(now) if r.status == readpath.S.ACTIVE and not r.overdue(now)]
    stored = cache.store.get(session, rows, cache.generation(now).version.zones_changed)
    chosen = []
    for row in rows:
        if row.id not in stored:
            continue
        placement = stored[row.id].placement
        if the_zone is not None and not public.in_zone(placement, the_zone):
            continue
        if lon is not None and lat is not None and not public.covers_point(placement, lon, lat):
            continue
        chosen.append(stored[row.id])
    chosen.sort(key=lambda s: (s.snapshot.updated, str(s.snapshot.notice_id)), reverse=True)
    return chosen


def active_snapshots(
    zone: str | None, lon: float | None, lat: float | None, now: datetime
) -> list[NoticeSnapshot]:
    """Snapshots of the active notices for a place (see :func:`active_stored`)."""
    return [stored.snapshot for stored in active_stored(zone, lon, lat, now)]


def current_rows(now: datetime) -> list[readpath.Row]:
    """The active notices and those ended within the window (read once per generation)."""
    cache = read_cache()
    rows = cache.memo.get(("current-rows",))
    if rows is None:
        rows = readpath.current_rows(db.session, include_ended_days=retention_days(), now=now)
        cache.memo[("current-rows",)] = rows
    return list(rows)


def current_snapshots(now: datetime) -> list[NoticeSnapshot]:
    """Snapshots of the active notices and those ended within the window, newest first."""
    session = db.session
    cache = read_cache()
    rows = current_rows(now)
    stored = cache.store.get(session, rows, cache.generation(now).version.zones_changed)
    snapshots = [readpath.as_of(stored[r.id], r, now) for r in rows if r.id in stored]
    return sorted(snapshots, key=lambda s: (s.updated, str(s.notice_id)), reverse=True)


BANNER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors *"
)


@bp.get("/banner")
def banner_fragment() -> Response:
    """The banner as a self-contained HTML document for an iframe on any site."""
    zone, lon, lat = place_from_request()
    lang = requested_lang()

    def render(now: datetime) -> Rendered:
        snapshots = active_snapshots(zone, lon, lat, now)
        body = render_banner_html(snapshots, lang, base_url=base_url()).encode("utf-8")
        return Rendered(body, max((s.updated for s in snapshots), default=EPOCH))

    response = serve(("banner", zone, lon, lat, lang), "text/html", render, cors=False)
    response.headers["Content-Security-Policy"] = BANNER_CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
