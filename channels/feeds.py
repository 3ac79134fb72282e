"""RSS 2.0 and Atom feeds of notices, written as templated, escaped XML.

Each notice has one entry for its whole life, id ``urn:uuid:<notice_id>``;
callers pass the latest revision of each notice. An update changes the entry's
``updated`` and marks its title ("Uppdaterad: …"); an all-clear or expiry
marks it "Avblåst: …" / "Upphört: …". Atom entries carry GeoRSS geometry, the
CAP summary fields and a ``rel="related"`` link to the CAP document.

Output depends only on the input: the feed's own ``updated``/``lastBuildDate``
is its newest entry's ``updated`` (never the clock), so identical content
renders byte-identical bodies and pollers get stable ETags.

Entries are rendered one at a time to bytes (:func:`atom_entry`,
:func:`rss_item`, :func:`cap_index_entry`) and joined into a document
(:func:`atom_document`, :func:`rss_document`), so a caller may keep the bytes
of entries that did not change and bound a document by size. Every text and
attribute goes through :func:`_text` / :func:`_attr` (XML-escaped, characters
XML 1.0 cannot carry dropped). Documents may carry RFC 5005 archived-feed links
(``current``, ``prev-archive``, ``next-archive`` and ``<fh:archive/>``); RSS
carries them as ``atom:link``. (feedgen built these feeds before; at a thousand
notices it took most of a second per render.)
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

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
    #: RFC 5005: the current document's URL (on archive documents), and the archives'.
    current_url: str = ""
    prev_archive_url: str = ""
    next_archive_url: str = ""
    archive: bool = False  # this document is an archive document (``<fh:archive/>``)

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


def feed_order(snapshots: Iterable[NoticeSnapshot]) -> list[NoticeSnapshot]:
    """Newest update first."""
    # Ties broken by id so equal input always gives equal output.
    return sorted(snapshots, key=lambda s: (_utc(s.updated), str(s.notice_id)), reverse=True)


ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: object) -> str:
    """Element text: escaped, and characters XML 1.0 cannot carry dropped."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=False)


def _attr(value: object) -> str:
    """An attribute value, quoted with ``"``."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _el(name: str, text: object, **attrs: str) -> str:
    attributes = "".join(f' {key}="{_attr(value)}"' for key, value in attrs.items())
    return f"<{name}{attributes}>{_text(text)}</{name}>"


def _link(**attrs: str) -> str:
    # ``rel`` first, as feed readers print it; None/empty attributes are left out.
    return "<link" + "".join(f' {k}="{_attr(v)}"' for k, v in attrs.items() if v) + "/>"


def _rfc3339(value: datetime) -> str:
    return _utc(value).isoformat()


def _rfc822(value: datetime) -> str:
    return format_datetime(_utc(value))


def atom_entry(snapshot: NoticeSnapshot, lang: str) -> bytes:
    """One notice's Atom ``<entry>`` (its latest revision), as UTF-8 bytes."""
    text_lang = snapshot.text_language(lang)
    first_sent = min((ref.sent for ref in snapshot.references), default=snapshot.sent)
    parts = [
        f'<entry xml:lang="{_attr(text_lang)}">',
        _el("id", f"urn:uuid:{snapshot.notice_id}"),
        _el("title", marked_headline(snapshot, lang)),
        _el("updated", _rfc3339(snapshot.updated)),
        _el("published", _rfc3339(min(first_sent, snapshot.sent))),
        f"<author>{_el('name', snapshot.sender_name)}</author>",
        _el("content", "\n\n".join(_plain_body(snapshot, lang)), type="text"),
    ]
    if snapshot.url:
        parts.append(
            _link(rel="alternate", type="text/html", hreflang=text_lang, href=snapshot.url)
        )
    if snapshot.cap_url:
        parts.append(_link(rel="related", type=CAP_MEDIA_TYPE, href=snapshot.cap_url))
    parts.append(
        "<category"
        f' term="{_attr(snapshot.category)}"'
        f' scheme="{CATEGORY_SCHEME}"'
        f' label="{_attr(category_label(snapshot.category, lang))}"/>'
    )
    parts += [_el(f"georss:{name}", text) for name, text in georss_elements(snapshot)]
    parts += [_el(f"cap:{name}", text) for name, text in cap_elements(snapshot, lang)]
    parts.append("</entry>\n")
    return "".join(parts).encode("utf-8")


def rss_item(snapshot: NoticeSnapshot, lang: str) -> bytes:
    """One notice's RSS ``<item>`` (its latest revision), as UTF-8 bytes."""
    # RSS <description> is entity-encoded HTML: escape the text, then mark up paragraphs.
    description = "".join(f"<p>{html.escape(p)}</p>" for p in _plain_body(snapshot, lang)) or " "
    parts = [
        "<item>",
        _el("title", marked_headline(snapshot, lang)),
    ]
    if snapshot.url:
        parts.append(_el("link", snapshot.url))
    parts += [
        _el("description", description),
        _el("category", category_label(snapshot.category, lang), domain=CATEGORY_SCHEME),
        _el("guid", f"urn:uuid:{snapshot.notice_id}", isPermaLink="false"),
        # RSS has one date; readers sort by it, so it says when the item last changed.
        _el("pubDate", _rfc822(snapshot.updated)),
    ]
    parts += [_el(f"georss:{name}", text) for name, text in georss_elements(snapshot)]
    parts.append("</item>\n")
    return "".join(parts).encode("utf-8")


def cap_index_entry(snapshot: NoticeSnapshot, lang: str) -> bytes:
    """One revision's entry in the Atom index of CAP documents."""
    if not snapshot.cap_url:
        raise ValueError(f"revision {snapshot.identifier} has no cap_url to index")
    text_lang = snapshot.text_language(lang)
    text = snapshot.text(lang)
    parts = [
        f'<entry xml:lang="{_attr(text_lang)}">',
        _el("id", revision_entry_id(snapshot)),
        _el("title", marked_headline(snapshot, lang)),
        _el("updated", _rfc3339(snapshot.updated)),
        _el("published", _rfc3339(snapshot.sent)),
        f"<author>{_el('name', snapshot.sender_name)}</author>",
        _el("summary", text.description or text.headline, type="text"),
        _link(rel="alternate", type=CAP_MEDIA_TYPE, href=snapshot.cap_url),
    ]
    if snapshot.url:
        parts.append(_link(rel="related", type="text/html", hreflang=text_lang, href=snapshot.url))
    parts += [_el(f"cap:{name}", value) for name, value in cap_elements(snapshot, lang, full=True)]
    parts += [_el(f"georss:{name}", value) for name, value in georss_elements(snapshot)]
    parts.append("</entry>\n")
    return "".join(parts).encode("utf-8")


def _archive_links(feed: FeedInfo, media_type: str, *, prefix: str = "") -> list[str]:
    tag = f"{prefix}link"
    links = []
    for rel, href in (
        ("current", feed.current_url),
        ("prev-archive", feed.prev_archive_url),
        ("next-archive", feed.next_archive_url),
    ):
        if href:
            links.append(f'<{tag} rel="{rel}" type="{media_type}" href="{_attr(href)}"/>')
    if feed.archive:
        links.append("<fh:archive/>")
    return links


def atom_document(feed: FeedInfo, lang: str, entries: Sequence[bytes], updated: datetime) -> bytes:
    """An Atom feed of already rendered ``entries`` (newest first), ``updated`` its date."""
    head = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<feed xmlns="{ATOM_NS}" xmlns:cap="{CAP_NS}" xmlns:georss="{GEORSS_NS}"'
        f' xmlns:fh="{FH_NS}" xml:lang="{_attr(ui_language(lang))}">\n',
        _el("id", feed.feed_id),
        _el("title", feed.title),
        _el("subtitle", feed.subtitle or feed.title),
        _el("updated", _rfc3339(updated)),
        f"<author>{_el('name', feed.author_name)}</author>",
        _link(rel="self", type=ATOM_MEDIA_TYPE, href=feed.self_url),
        _link(rel="alternate", type="text/html", href=feed.alternate_url),
        *_archive_links(feed, ATOM_MEDIA_TYPE),
        _el("generator", "Varsla"),
        "\n",
    ]
    return "".join(head).encode("utf-8") + b"".join(entries) + b"</feed>\n"


def rss_document(feed: FeedInfo, lang: str, items: Sequence[bytes], updated: datetime) -> bytes:
    """An RSS 2.0 channel of already rendered ``items`` (newest first)."""
    head = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<rss xmlns:atom="{ATOM_NS}" xmlns:georss="{GEORSS_NS}" xmlns:fh="{FH_NS}"'
        ' version="2.0">\n<channel>',
        _el("title", feed.title),
        _el("link", feed.alternate_url),
        _el("description", feed.subtitle or feed.title),
        f'<atom:link rel="self" type="{RSS_MEDIA_TYPE}" href="{_attr(feed.self_url)}"/>',
        *_archive_links(feed, RSS_MEDIA_TYPE, prefix="atom:"),
        _el("generator", "Varsla"),
        _el("language", ui_language(lang)),
        _el("lastBuildDate", _rfc822(updated)),
        "\n",
    ]
    return "".join(head).encode("utf-8") + b"".join(items) + b"</channel>\n</rss>\n"


def cap_index_order(snapshots: Iterable[NoticeSnapshot]) -> list[NoticeSnapshot]:
    """Revisions newest sent first (ties broken so equal input gives equal output)."""
    return sorted(
        snapshots, key=lambda s: (_utc(s.sent), str(s.notice_id), s.revision), reverse=True
    )


def render_rss(snapshots: Iterable[NoticeSnapshot], *, feed: FeedInfo, lang: str) -> bytes:
    """RSS 2.0 of the notices (latest revision of each), newest update first."""
    ordered = feed_order(snapshots)
    items = [rss_item(s, lang) for s in ordered]
    return rss_document(feed, lang, items, last_modified(ordered, feed))


def render_atom(snapshots: Iterable[NoticeSnapshot], *, feed: FeedInfo, lang: str) -> bytes:
    """Atom 1.0 of the notices (latest revision of each), newest update first."""
    ordered = feed_order(snapshots)
    entries = [atom_entry(s, lang) for s in ordered]
    return atom_document(feed, lang, entries, last_modified(ordered, feed))


def render_cap_index(
    snapshots: Iterable[NoticeSnapshot], *, feed: FeedInfo, lang: str = "sv"
) -> bytes:
    """Atom index of CAP documents, one entry per revision (see ``channels.cap``)."""
    ordered = cap_index_order(snapshots)
    entries = [cap_index_entry(s, lang) for s in ordered]
    return atom_document(feed, lang, entries, last_modified(ordered, feed))
