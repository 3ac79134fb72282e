"""CAP 1.2 messages of notice revisions, and the Atom index of them.

``render_cap`` turns one :class:`~channels.base.NoticeSnapshot` into a CAP 1.2
``<alert>`` document that validates against the OASIS schema: one ``<info>``
per language, the area as closed ``lat,lon`` polygons and ``lat,lon radius_km``
circles. CAP times must carry a numeric offset and no fractions (the schema's
pattern forbids ``Z``), so they are written in Swedish local time.

The area as lat/lon rings lives here too: the feeds' GeoRSS uses it.
Localised labels are in :mod:`channels.labels`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lxml import etree

from channels.base import (
    CAP_CATEGORY,
    DEFAULT_LANGUAGE,
    LOCAL_TZ,
    Circle,
    NoticeSnapshot,
    ui_language,
)
from channels.labels import area_description, default_event

logger = logging.getLogger(__name__)

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"

#: CAP allows more, but aggregators (and the EU-Alert profiles) cap polygons here.
MAX_POLYGON_POINTS = 250
COORDINATE_DECIMALS = 6

CAP_LANGUAGE = {"sv": "sv-SE", "en": "en-US"}
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")


class AreaError(ValueError):
    """The area cannot be written as CAP/GeoRSS polygons (too many points, bad coordinates)."""


def cap_datetime(value: datetime) -> str:
    """``2026-11-24T08:15:00+01:00``: Swedish local time, seconds, numeric offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: CAP times need a time zone")
    return value.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


def format_coordinate(value: float) -> str:
    """A coordinate with at most six decimals and no trailing zeros (``60.88``)."""
    text = f"{round(float(value), COORDINATE_DECIMALS):.{COORDINATE_DECIMALS}f}"
    text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _exterior_rings_lon_lat(area_geojson_lon_lat: Mapping[str, Any]) -> list[Sequence[Any]]:
    kind = area_geojson_lon_lat.get("type")
    coordinates = area_geojson_lon_lat.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon":
        polygons = list(coordinates or ())
    elif kind == "GeometryCollection":
        rings: list[Sequence[Any]] = []
        for geometry in area_geojson_lon_lat.get("geometries") or ():
            rings.extend(_exterior_rings_lon_lat(geometry))
        return rings
    else:
        raise AreaError(f"area must be a GeoJSON Polygon or MultiPolygon, not {kind!r}")
    rings = []
    for polygon in polygons:
        if not polygon:
            raise AreaError("polygon without an exterior ring")
        # CAP and GeoRSS polygons have no holes: the exterior ring covers the
        # holes too, which errs on the side of warning too many people.
        rings.append(polygon[0])
    return rings


def area_rings_lat_lon(
    area_geojson_lon_lat: Mapping[str, Any] | None,
) -> list[list[tuple[str, str]]]:
    """The area's exterior rings as closed lists of formatted ``(lat, lon)`` pairs.

    Each ring is closed (first point repeated last), has at most
    ``MAX_POLYGON_POINTS`` points and six decimals. The area must already be
    simplified; an oversized ring raises :class:`AreaError` rather than being
    cut silently.
    """
    if not area_geojson_lon_lat:
        return []
    result = []
    for ring in _exterior_rings_lon_lat(area_geojson_lon_lat):
        points: list[tuple[str, str]] = []
        for position in ring:
            if len(position) < 2:
                raise AreaError(f"position {position!r} has no lon/lat")
            lon, lat = float(position[0]), float(position[1])
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                raise AreaError(f"position lon={lon} lat={lat} is not WGS 84 lon/lat")
            point = (format_coordinate(lat), format_coordinate(lon))
            if points and points[-1] == point:
                continue  # rounding made two neighbours one point
            points.append(point)
        if points and points[0] != points[-1]:
            points.append(points[0])
        if len(points) < 4:
            raise AreaError(f"ring has {len(points)} points; a polygon needs at least 4")
        if len(points) > MAX_POLYGON_POINTS:
            raise AreaError(
                f"ring has {len(points)} points; simplify it to at most {MAX_POLYGON_POINTS}"
            )
        result.append(points)
    return result


def cap_polygons(snapshot: NoticeSnapshot) -> list[str]:
    """CAP ``<polygon>`` texts: ``lat,lon lat,lon …``, closed."""
    return [
        " ".join(f"{lat},{lon}" for lat, lon in ring)
        for ring in area_rings_lat_lon(snapshot.area_geojson_lon_lat)
    ]


def cap_circle(circle: Circle) -> str:
    """CAP ``<circle>`` text: ``lat,lon radius_km``."""
    if circle.radius_m <= 0:
        raise AreaError(f"circle radius must be positive, not {circle.radius_m} m")
    if not (-180.0 <= circle.lon <= 180.0 and -90.0 <= circle.lat <= 90.0):
        raise AreaError(f"circle centre lon={circle.lon} lat={circle.lat} is not lon/lat")
    radius_km = f"{circle.radius_m / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{format_coordinate(circle.lat)},{format_coordinate(circle.lon)} {radius_km}"


def event_name(snapshot: NoticeSnapshot, lang: str) -> str:
    """CAP ``<event>``: the snapshot's own, else a default for its category."""
    lang = ui_language(lang)
    return (
        snapshot.event.get(lang)
        or snapshot.event.get(DEFAULT_LANGUAGE)
        or default_event(snapshot.category, lang)
    )


def response_type(snapshot: NoticeSnapshot, lang: str) -> str:
    """CAP ``<responseType>``: what the public is asked to do.

    An all-clear is ``AllClear``; a road notice asks people to ``Avoid`` the
    area; a notice with an instruction (boil the water, store water, stay away
    from the shore) asks them to ``Prepare``; without one they should
    ``Monitor`` the situation.
    """
    if snapshot.msg_type == "Cancel":
        return "AllClear"
    if snapshot.category == "roads":
        return "Avoid"
    if snapshot.text(lang).instruction.strip():
        return "Prepare"
    return "Monitor"


def cap_references(snapshot: NoticeSnapshot) -> str:
    """CAP ``<references>``: ``sender,identifier,sent`` for each earlier revision."""
    for ref in snapshot.references:
        if any(ch.isspace() or ch == "," for ch in ref.identifier):
            raise ValueError(f"CAP identifier {ref.identifier!r} contains space or comma")
    return " ".join(
        f"{snapshot.sender},{ref.identifier},{cap_datetime(ref.sent)}"
        for ref in snapshot.references
    )


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


#: CAP ``<parameter>`` names of the times a revision promises; values are CAP datetimes.
#: CAP 1.2 names neither. ``NextUpdate`` is what MetService New Zealand's CAP feed uses for
#: the time of the next issue; no profile we found names an expected restoration.
PROMISE_PARAMETERS = {
    "next_update": "NextUpdate",
    "expected_restoration": "ExpectedRestoration",
}


def promised_parameters(snapshot: NoticeSnapshot) -> list[tuple[str, datetime]]:
    """``(valueName, time)`` of each time the revision promises (none for an all-clear)."""
    if snapshot.kind == "Cancel":
        return []
    return [
        (name, moment)
        for field, name in PROMISE_PARAMETERS.items()
        if (moment := getattr(snapshot, field)) is not None
    ]


def render_cap(snapshot: NoticeSnapshot) -> bytes:
    """The CAP 1.2 ``<alert>`` of one notice revision, as UTF-8 XML.

    ``Update`` and ``Cancel`` messages must reference the revisions they
    replace; one without references raises ``ValueError`` (aggregators would
    otherwise show it as a new, unrelated alert).
    """
    if snapshot.msg_type not in ("Alert", "Update", "Cancel"):
        raise ValueError(f"msg_type must be Alert, Update or Cancel, not {snapshot.msg_type!r}")
    for value, what in ((snapshot.identifier, "identifier"), (snapshot.sender, "sender")):
        if not value or any(ch.isspace() or ch in ",&<" for ch in value):
            raise ValueError(f"CAP {what} {value!r} must be non-empty, without spaces or commas")
    for value, allowed, what in (
        (snapshot.urgency, URGENCIES, "urgency"),
        (snapshot.severity, SEVERITIES, "severity"),
        (snapshot.certainty, CERTAINTIES, "certainty"),
    ):
        if value not in allowed:
            raise ValueError(f"CAP {what} must be one of {', '.join(allowed)}, not {value!r}")
    if snapshot.msg_type != "Alert" and not snapshot.references:
        raise ValueError(f"a CAP {snapshot.msg_type} must reference the revisions it replaces")

    polygons = cap_polygons(snapshot)
    circles = [cap_circle(circle) for circle in snapshot.circles]

    alert = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(alert, "identifier", snapshot.identifier)
    _sub(alert, "sender", snapshot.sender)
    _sub(alert, "sent", cap_datetime(snapshot.sent))
    _sub(alert, "status", "Exercise" if snapshot.exercise else "Actual")
    _sub(alert, "msgType", snapshot.msg_type)
    _sub(alert, "scope", "Public")
    if snapshot.references:
        _sub(alert, "references", cap_references(snapshot))

    for lang in snapshot.languages():
        text = snapshot.texts[lang]
        info = _sub(alert, "info")
        _sub(info, "language", CAP_LANGUAGE.get(lang, lang))
        _sub(info, "category", CAP_CATEGORY.get(snapshot.category, "Other"))
        _sub(info, "event", event_name(snapshot, lang))
        _sub(info, "responseType", response_type(snapshot, lang))
        _sub(info, "urgency", snapshot.urgency)
        _sub(info, "severity", snapshot.severity)
        _sub(info, "certainty", snapshot.certainty)
        _sub(info, "effective", cap_datetime(snapshot.sent))
        if snapshot.onset is not None:
            _sub(info, "onset", cap_datetime(snapshot.onset))
        if snapshot.expires is not None:
            _sub(info, "expires", cap_datetime(snapshot.expires))
        _sub(info, "senderName", snapshot.sender_name)
        _sub(info, "headline", text.headline)
        if text.description:
            _sub(info, "description", text.description)
        if text.instruction:
            _sub(info, "instruction", text.instruction)
        if snapshot.url:
            _sub(info, "web", snapshot.url)
        for name, moment in promised_parameters(snapshot):
            parameter = _sub(info, "parameter")
            _sub(parameter, "valueName", name)
            _sub(parameter, "value", cap_datetime(moment))
        area = _sub(info, "area")
        _sub(area, "areaDesc", area_description(snapshot, lang))
        for polygon in polygons:
            _sub(area, "polygon", polygon)
        for circle in circles:
            _sub(area, "circle", circle)
        for zone in snapshot.zones:
            geocode = _sub(area, "geocode")
            _sub(geocode, "valueName", "varsla:zone")
            _sub(geocode, "value", zone)

    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def revision_entry_id(snapshot: NoticeSnapshot) -> str:
    """A permanent Atom id for one revision (the notice's entry id is for the notice)."""
    return f"urn:uuid:{uuid.uuid5(snapshot.notice_id, f'revision/{snapshot.revision}')}"
