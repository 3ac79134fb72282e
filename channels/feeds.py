"""RSS 2.0 and Atom feeds of notices, built with feedgen.

Each notice has one entry for its whole life, id ``urn:uuid:<notice_id>``;
callers pass the latest revision of each notice. An update changes the entry's
``updated`` and marks its title ("Uppdaterad: …"); an all-clear or expiry
marks it "Avblåst: …" / "Upphört: …". Atom entries carry GeoRSS geometry, the
CAP summary fields and a ``rel="related"`` link to the CAP document.

Output depends only on the input: the feed's own ``updated``/``lastBuildDate``
is its newest entry's ``updated`` (never the clock), so identical content
renders byte-identical bodies and pollers get stable ETags.

feedgen 1.0 drops ``rel``/``type``/``hreflang`` on Atom entry links (it reads
them from the element it has just created); Atom entry links are therefore
written by our own feedgen extension, :class:`VarslaEntryExtension`.
"""

from __future__ import annotations

import hashlib
import html
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from channels.base import CAP_CATEGORY, NoticeSnapshot, local_time, ui_language
from channels.cap import (
    CAP_MEDIA_TYPE,
    CAP_NS,
    AreaError,
    area_rings_lat_lon,
    cap_datetime,
    event_name,
    format_coordinate,
    revision_entry_id,
)
from channels.i18n import translations
from channels.labels import area_description, category_label, marked_headline, promises

logger = logging.getLogger(__name__)

RSS_MEDIA_TYPE = "application/rss+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
GEORSS_NS = "http://www.georss.org/georss"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CATEGORY_SCHEME = "urn:varsla:category"
# Namespace of the name-based feed ids (uuid5); never change it.
FEED_ID_NAMESPACE = uuid.UUID("5b0f6a8e-3c4d-5e2f-9a71-0d6c2b8e4f13")


def feed_urn(key: str) -> str:
    """A stable ``urn:uuid:`` feed id for a feed's key (``"notices"``, ``"zones/gesunda"``)."""
    return f"urn:uuid:{uuid.uuid5(FEED_ID_NAMESPACE, key)}"


@dataclass(frozen=True)
class FeedInfo:
    """What a feed says about itself, already in the requested language.

    ``feed_id`` is permanent: a ``urn:uuid:`` (see :func:`feed_urn`) or a
    ``tag:`` URI. ``updated_when_empty`` is the feed's ``updated`` when it has
    no entries (the clock is never used, so bodies stay reproducible).
    """

    title: str
    feed_id: str
    self_url: str
    alternate_url: str
    subtitle: str = ""
    author_name: str = "Varsla"
    updated_when_empty: datetime = EPOCH

    def __post_init__(self) -> None:
        if not self.feed_id.startswith(("urn:uuid:", "tag:")):
            raise ValueError(f"feed_id {self.feed_id!r} must be a urn:uuid: or tag: URI")


def feed_validators(body: bytes, last_modified: datetime) -> tuple[str, str]:
    """``(ETag, Last-Modified)`` header values for a rendered body.

    The ETag is a strong validator over the bytes; ``Last-Modified`` is the
    HTTP date (RFC 9110 IMF-fixdate, GMT, whole seconds) of ``last_modified``.
    """
    if last_modified.tzinfo is None:
        raise ValueError("last_modified must be timezone-aware")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    http_date = format_datetime(last_modified.astimezone(UTC).replace(microsecond=0), usegmt=True)
    return etag, http_date


def last_modified(snapshots: Iterable[NoticeSnapshot], feed: FeedInfo) -> datetime:
    """The feed's ``updated``: its newest entry's ``updated`` (UTC, whole seconds)."""
    newest = max((s.updated for s in snapshots), default=feed.updated_when_empty)
    return _utc(newest)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}")
    return value.astimezone(UTC).replace(microsecond=0)


class _NamespacesExtension(BaseExtension):
    """Feed-level half of our extension: declares the ``cap:`` and ``georss:`` prefixes."""

    def extend_ns(self):
        return {"cap": CAP_NS, "georss": GEORSS_NS}


class VarslaEntryExtension(BaseEntryExtension):
    """Entry-level half: correct Atom links, ``xml:lang``, GeoRSS and CAP elements."""

    def __init__(self):
        self.lang: str | None = None
        self.links: list[dict[str, str]] = []
        self.georss: list[tuple[str, str]] = []
        self.cap: list[tuple[str, str]] = []

    def extend_atom(self, entry):
        if self.lang:
            entry.set(XML_LANG, self.lang)
        # feedgen wrote the links without rel/type: replace them with whole ones.
        for broken in entry.findall("link"):
            entry.remove(broken)
        for link in self.links:
            xml_elem("link", entry, **link)
        self._extend(entry)
        return entry

    def set_links(self, fe, links: list[dict[str, str]]) -> None:
        """Give the entry ``links``: feedgen keeps them for RSS ``<link>`` and its
        own checks, this extension writes them to Atom with all their attributes."""
        self.links = links
        if links:
            fe.link([dict(link) for link in links], replace=True)

    def extend_rss(self, item):
        # RSS items get the geometry (GeoRSS in RSS is common); CAP stays in Atom.
        for name, text in self.georss:
            xml_elem(f"{{{GEORSS_NS}}}{name}", item).text = text
        return item

    def _extend(self, entry):
        for name, text in self.georss:
            xml_elem(f"{{{GEORSS_NS}}}{name}", entry).text = text
        for name, text in self.cap:
            xml_elem(f"{{{CAP_NS}}}{name}", entry).text = text


def _rings(snapshot: NoticeSnapshot) -> list[list[tuple[str, str]]]:
    # One notice with a bad area must not take the whole feed down: the entry
    # goes out without geometry (its CAP document refuses to render instead).
    try:
        return area_rings_lat_lon(snapshot.area_geojson_lon_lat)
    except AreaError as exc:
        logger.warning("notice %s: area left out of the feed: %s", snapshot.notice_id, exc)
        return []


def georss_elements(snapshot: NoticeSnapshot) -> list[tuple[str, str]]:
    """GeoRSS-Simple elements: a ``polygon`` per exterior ring ("lat lon lat lon …"),
    a ``circle`` per circle ("lat lon radius_m")."""
    elements = [
        ("polygon", " ".join(f"{lat} {lon}" for lat, lon in ring)) for ring in _rings(snapshot)
    ]
    for circle in snapshot.circles:
        radius_m = f"{circle.radius_m:.1f}".rstrip("0").rstrip(".")
        centre = f"{format_coordinate(circle.lat)} {format_coordinate(circle.lon)}"
        elements.append(("circle", f"{centre} {radius_m}"))
    return elements


def cap_elements(
    snapshot: NoticeSnapshot, lang: str, *, full: bool = False
) -> list[tuple[str, str]]:
    """The CAP summary fields an entry carries (``full`` adds those of a CAP index)."""
    fields: list[tuple[str, str]] = []
    if full:
        fields += [
            ("identifier", snapshot.identifier),
            ("sender", snapshot.sender),
            ("sent", cap_datetime(snapshot.sent)),
            ("status", "Actual"),
        ]
    fields += [("msgType", snapshot.msg_type)]
    if full:
        fields += [
            ("scope", "Public"),
            ("category", CAP_CATEGORY.get(snapshot.category, "Other")),
        ]
    fields += [
        ("event", event_name(snapshot, lang)),
        ("urgency", snapshot.urgency),
        ("severity", snapshot.severity),
        ("certainty", snapshot.certainty),
    ]
    if full:
        fields.append(("effective", cap_datetime(snapshot.sent)))
        if snapshot.onset is not None:
            fields.append(("onset", cap_datetime(snapshot.onset)))
    if snapshot.expires is not None:
        fields.append(("expires", cap_datetime(snapshot.expires)))
    if full:
        fields.append(("areaDesc", area_description(snapshot, lang)))
        fields += [
            ("polygon", " ".join(f"{lat},{lon}" for lat, lon in ring)) for ring in _rings(snapshot)
        ]
    return fields


def _plain_body(snapshot: NoticeSnapshot, lang: str) -> list[str]:
    _ = translations(lang).gettext
    text = snapshot.text(lang)
    paragraphs = [". ".join(promises(snapshot, lang)), text.description, text.instruction]
    when = []
    if snapshot.onset is not None:
        when.append(_("From %(time)s") % {"time": local_time(snapshot.onset)})
    if snapshot.expires is not None:
        when.append(_("Until %(time)s") % {"time": local_time(snapshot.expires)})
    if when:
        paragraphs.append(" · ".join(when))
    area = area_description(snapshot, lang)
    if area:
        paragraphs.append(_("Area: %(area)s") % {"area": area})
    return [p.strip() for p in paragraphs if p and p.strip()]


def _sorted(snapshots: Iterable[NoticeSnapshot]) -> list[NoticeSnapshot]:
    # Newest first; ties broken by id so equal input always gives equal output.
    return sorted(snapshots, key=lambda s: (_utc(s.updated), str(s.notice_id)), reverse=True)


def _generator(
    feed: FeedInfo, lang: str, snapshots: list[NoticeSnapshot], *, media_type: str
) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("varsla", _NamespacesExtension, VarslaEntryExtension)
    fg.id(feed.feed_id)
    fg.title(feed.title)
    fg.subtitle(feed.subtitle or feed.title)  # also the RSS <description>, which is required
    fg.link(href=feed.self_url, rel="self", type=media_type)
    # Last, because feedgen makes the last feed link the RSS channel's <link>.
    fg.link(href=feed.alternate_url, rel="alternate", type="text/html")
    fg.language(ui_language(lang))
    fg.author(name=feed.author_name)
    fg.generator("Varsla")
    fg.updated(last_modified(snapshots, feed))  # also lastBuildDate
    return fg


def _notice_entry(fg: FeedGenerator, snapshot: NoticeSnapshot, lang: str, *, atom: bool) -> None:
    fe = fg.add_entry(order="append")
    ext: VarslaEntryExtension = fe.varsla
    text_lang = snapshot.text_language(lang)
    fe.id(f"urn:uuid:{snapshot.notice_id}")
    fe.title(marked_headline(snapshot, lang))
    fe.updated(_utc(snapshot.updated))
    if atom:
        first_sent = min((ref.sent for ref in snapshot.references), default=snapshot.sent)
        fe.published(_utc(min(first_sent, snapshot.sent)))
    else:
        # RSS has one date; readers sort by it, so it says when the item last changed.
        fe.pubDate(_utc(snapshot.updated))
    fe.author(name=snapshot.sender_name)
    fe.category(
        term=snapshot.category,
        label=category_label(snapshot.category, lang),
        scheme=CATEGORY_SCHEME,
    )
    paragraphs = _plain_body(snapshot, lang)
    ext.georss = georss_elements(snapshot)
    if atom:
        ext.lang = text_lang
        fe.content("\n\n".join(paragraphs), type="text")
        links = []
        if snapshot.url:
            links.append(
                {
                    "href": snapshot.url,
                    "rel": "alternate",
                    "type": "text/html",
                    "hreflang": text_lang,
                }
            )
        if snapshot.cap_url:
            links.append({"href": snapshot.cap_url, "rel": "related", "type": CAP_MEDIA_TYPE})
        ext.set_links(fe, links)
        ext.cap = cap_elements(snapshot, lang)
    else:
        # RSS <description> is entity-encoded HTML: escape the text, then mark up paragraphs.
        fe.description("".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) or " ")
        if snapshot.url:
            fe.link(href=snapshot.url)


def render_rss(snapshots: Iterable[NoticeSnapshot], *, feed: FeedInfo, lang: str) -> bytes:
    """RSS 2.0 of the notices (latest revision of each), newest update first."""
    ordered = _sorted(snapshots)
    fg = _generator(feed, lang, ordered, media_type=RSS_MEDIA_TYPE)
    for snapshot in ordered:
        _notice_entry(fg, snapshot, lang, atom=False)
    return fg.rss_str(pretty=True)


def render_atom(snapshots: Iterable[NoticeSnapshot], *, feed: FeedInfo, lang: str) -> bytes:
    """Atom 1.0 of the notices (latest revision of each), newest update first."""
    ordered = _sorted(snapshots)
    fg = _generator(feed, lang, ordered, media_type=ATOM_MEDIA_TYPE)
    for snapshot in ordered:
        _notice_entry(fg, snapshot, lang, atom=True)
    return fg.atom_str(pretty=True)


def render_cap_index(
    snapshots: Iterable[NoticeSnapshot], *, feed: FeedInfo, lang: str = "sv"
) -> bytes:
    """Atom index of CAP documents, one entry per revision (see ``channels.cap``)."""
    ordered = sorted(
        snapshots,
        key=lambda s: (_utc(s.sent), str(s.notice_id), s.revision),
        reverse=True,
    )
    fg = _generator(feed, lang, ordered, media_type=ATOM_MEDIA_TYPE)
    for snapshot in ordered:
        if not snapshot.cap_url:
            raise ValueError(f"revision {snapshot.identifier} has no cap_url to index")
        fe = fg.add_entry(order="append")
        ext: VarslaEntryExtension = fe.varsla
        text_lang = snapshot.text_language(lang)
        ext.lang = text_lang
        fe.id(revision_entry_id(snapshot))
        fe.title(marked_headline(snapshot, lang))
        fe.updated(_utc(snapshot.updated))
        fe.published(_utc(snapshot.sent))
        fe.author(name=snapshot.sender_name)
        fe.summary(snapshot.text(lang).description or snapshot.text(lang).headline, type="text")
        links = [{"href": snapshot.cap_url, "rel": "alternate", "type": CAP_MEDIA_TYPE}]
        if snapshot.url:
            links.append(
                {"href": snapshot.url, "rel": "related", "type": "text/html", "hreflang": text_lang}
            )
        ext.set_links(fe, links)
        ext.cap = cap_elements(snapshot, lang, full=True)
        ext.georss = georss_elements(snapshot)
    return fg.atom_str(pretty=True)
