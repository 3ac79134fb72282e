"""The console's notice editor: its form read into the API's shapes, and its errors put next
to the fields they are about, in the reader's language.

One editor serves a new draft, an edit of a draft and the update of a live notice. It works
without JavaScript: zones are checkboxes and a circle is three number fields; the map
(``static/console-editor.js``) fills the same fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import format_decimal, gettext
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from alerts.errors import FieldError, ValidationFailed
from alerts.i18n import N_
from alerts.notices.models import NoticeRevision
from alerts.notices.notice_templates import TEMPLATES, fill_template
from alerts.notices.schemas import ALL_CHANNELS
from alerts.places.models import Zone
from alerts.web.labels import field_message, label
from channels.base import from_local, local_time

LANGUAGES = ("sv", "en")
TEXT_FIELDS = ("headline", "description", "instruction")
CHOICE_FIELDS = ("category", "severity", "urgency", "certainty")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
#: The times a revision promises residents (optional; see ``alerts.notices.operations``).
PROMISED = ("next_update", "expected_restoration")


@dataclass
class Draft:
    """What the editor shows: the values of its fields, as strings and lists."""

    template: str = ""
    place: str = ""
    zones: list[str] = field(default_factory=list)
    geometry: str = ""
    circle_lon: str = ""
    circle_lat: str = ""
    circle_radius: str = ""
    texts: dict[str, dict[str, str]] = field(
        default_factory=lambda: {lang: dict.fromkeys(TEXT_FIELDS, "") for lang in LANGUAGES}
    )
    category: str = ""
    severity: str = ""
    urgency: str = ""
    certainty: str = ""
    onset: str = ""
    expires: str = ""
    next_update: str = ""
    expected_restoration: str = ""
    channels: list[str] = field(default_factory=lambda: list(ALL_CHANNELS))
    confirm_municipalities: bool = False

    @classmethod
    def from_form(cls, form: MultiDict) -> Draft:
        draft = cls(
            template=form.get("template", "").strip(),
            place=form.get("place", "").strip(),
            zones=form.getlist("zones"),
            geometry=form.get("geometry", "").strip(),
            circle_lon=form.get("circle_lon", "").strip(),
            circle_lat=form.get("circle_lat", "").strip(),
            circle_radius=form.get("circle_radius", "").strip(),
            onset=form.get("onset", "").strip(),
            expires=form.get("expires", "").strip(),
            next_update=form.get("next_update", "").strip(),
            expected_restoration=form.get("expected_restoration", "").strip(),
            channels=form.getlist("channels"),
            confirm_municipalities=form.get("confirm_municipalities") == "1",
        )
        for name in CHOICE_FIELDS:
            setattr(draft, name, form.get(name, "").strip())
        for lang in LANGUAGES:
            for name in TEXT_FIELDS:
                draft.texts[lang][name] = form.get(f"{lang}_{name}", "").strip()
        return draft

    @classmethod
    def from_revision(cls, revision: NoticeRevision) -> Draft:
        area = revision.area_request
        circle = area.get("circle") or {}
        draft = cls(
            template=revision.template or "",
            place=area.get("name", ""),
            zones=list(area.get("zones") or []),
            geometry=json.dumps(area["geometry"]) if area.get("geometry") else "",
            circle_lon=str(circle["center"][0]) if circle else "",
            circle_lat=str(circle["center"][1]) if circle else "",
            circle_radius=str(circle["radius_m"]) if circle else "",
            category=revision.category,
            severity=revision.severity,
            urgency=revision.urgency,
            certainty=revision.certainty,
            onset=_local_input(revision.onset),
            expires=_local_input(revision.expires),
            next_update=_local_input(revision.next_update),
            expected_restoration=_local_input(revision.expected_restoration),
            channels=list(revision.channels),
        )
        for lang in LANGUAGES:
            for name in TEXT_FIELDS:
                draft.texts[lang][name] = (revision.texts.get(lang) or {}).get(name, "")
        return draft

    def fill_from_template(self, session: Session) -> None:
        """Put the template's texts (with the place) into the text fields, to edit.

        Refused, naming the place field, while there is neither a place name nor a zone:
        the texts would read "Koka vattnet i" and be saved and sent that way."""
        if self.template not in TEMPLATES:
            return
        place = self.place or ", ".join(
            session.scalars(select(Zone.name).where(Zone.slug.in_(self.zones)))
        )
        if not place:
            raise ValidationFailed.on(
                "template_values.place",
                N_("ange ett platsnamn: mallen behöver det och området har inga zoner"),
            )
        template, texts = fill_template(
            self.template,
            place=place,
            onset=parse_local(self.onset),
            expires=parse_local(self.expires),
            values={"place": place} if place else {},
        )
        for lang, fields in texts.items():
            self.texts[lang] = dict(fields)
        for name in CHOICE_FIELDS:
            if not getattr(self, name):
                setattr(self, name, getattr(template, name))

    def area(self) -> dict[str, Any]:
        """The area in the API's shape; what does not parse is passed on for the schema to name."""
        area: dict[str, Any] = {"zones": self.zones}
        if self.place:
            area["name"] = self.place
        if self.geometry:
            try:
                area["geometry"] = json.loads(self.geometry)
            except ValueError:
                area["geometry"] = self.geometry
        if self.circle_lon or self.circle_lat or self.circle_radius:
            area["circle"] = {
                "center": [_number(self.circle_lon), _number(self.circle_lat)],
                "radius_m": _number(self.circle_radius),
            }
        return area

    def texts_in(self) -> dict[str, dict[str, str]]:
        """The languages with any text typed."""
        return {lang: fields for lang, fields in self.texts.items() if any(fields.values())}

    def common(self) -> dict[str, Any]:
        """Fields shared by the create and change shapes (only those given)."""
        payload: dict[str, Any] = {"area": self.area(), "channels": self.channels}
        for name in CHOICE_FIELDS:
            if getattr(self, name):
                payload[name] = getattr(self, name)
        for name in ("onset", "expires", *PROMISED):
            value = getattr(self, name)
            if value:
                parsed = parse_local(value)
                payload[name] = parsed if parsed is not None else value
            elif name in PROMISED:
                payload[name] = None  # an emptied field clears the promise
        return payload

    def create_payload(self) -> dict[str, Any]:
        """``POST /api/v1/notices``'s shape."""
        payload = self.common()
        if self.template:
            payload["template"] = self.template
            if self.place:
                payload["template_values"] = {"place": self.place}
        texts = self.texts_in()
        if texts:
            payload["texts"] = texts
        return payload

    def change_payload(self) -> dict[str, Any]:
        """``POST /api/v1/notices/<id>/update``'s shape."""
        payload = self.common()
        payload["texts"] = self.texts_in()
        return payload


def _number(value: str) -> Any:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return value


def _local_input(value: datetime | None) -> str:
    return local_time(value, LOCAL_FORMAT) if value else ""


def parse_local(value: str) -> datetime | None:
    try:
        return from_local(datetime.strptime(value, LOCAL_FORMAT))
    except ValueError:
        return None


def municipalities(session: Session, slugs: list[str]) -> list[str]:
    """Names of the municipalities the zones ``slugs`` lie in (a municipality is its own)."""
    if not slugs:
        return []
    chosen = list(session.scalars(select(Zone).where(Zone.slug.in_(slugs))))
    areas = list(session.scalars(select(Zone).where(Zone.kind == "municipality")))
    found: list[str] = []
    for zone in chosen:
        if zone.kind == "municipality":
            names = [zone.name]
        else:
            point = shape(zone.geometry).representative_point()
            names = [
                m.name
                for m in areas
                if m.min_lon <= point.x <= m.max_lon
                and m.min_lat <= point.y <= m.max_lat
                and shape(m.geometry).covers(point)
            ]
        found.extend(n for n in names if n not in found)
    return sorted(found)


# pydantic's and geodata's English messages, worded for the console (msgids are Swedish).
_KNOWN: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^(is required|String should have at least 1 character)$"),
        N_("måste fyllas i"),
    ),
    (
        re.compile(r"^String should have at most (?P<max>\d+) characters?"),
        N_("får vara högst %(max)s tecken"),
    ),
    (
        re.compile(r"^Input should be a valid number"),
        N_("måste vara ett tal"),
    ),
    (
        re.compile(r"^Input should be a valid datetime"),
        N_("måste vara en tid, som 2026-12-24 08:00"),
    ),
    (
        re.compile(r"^Input should be greater than or equal to (?P<min>[\d.]+)"),
        N_("måste vara minst %(min)s"),
    ),
    (
        re.compile(r"^Input should be less than or equal to (?P<max>[\d.]+)"),
        N_("får vara högst %(max)s"),
    ),
    (
        re.compile(r"^expires must be after onset"),
        N_("måste vara efter starttiden"),
    ),
    (
        re.compile(r"^(next_update|expected_restoration) must be after onset"),
        N_("måste vara efter starttiden"),
    ),
    (
        re.compile(r"must not be after expires"),
        N_("får inte vara efter sluttiden"),
    ),
    (
        re.compile(r"^give at least one of zones, geometry or circle"),
        N_("välj zoner, rita ett område eller en cirkel"),
    ),
    (
        re.compile(r"^channels must be"),
        N_("välj minst en kanal"),
    ),
    (
        re.compile(r"^unknown zone"),
        N_("okänd zon"),
    ),
    (
        re.compile(r"^the area is empty"),
        N_("området är tomt"),
    ),
    (
        re.compile(r"^the boundary crosses itself"),
        N_("gränsen korsar sig själv: rita om området så att kanterna inte korsar varandra"),
    ),
    (
        re.compile(r"^a ring touches or crosses itself"),
        N_(
            "gränsen rör vid eller korsar sig själv: rita om området så att kanterna inte "
            "korsar varandra"
        ),
    ),
    (
        re.compile(r"has no area: its points lie on a line$"),
        N_("området har ingen yta: punkterna ligger på en linje"),
    ),
    (
        re.compile(r"is (?P<width>[\d.]+) m wide on average \(at least (?P<least>[\d.]+) m\)"),
        N_(
            "området är bara %(width)s m brett i genomsnitt (minst %(least)s m): rita det runt "
            "adresserna som meddelandet gäller"
        ),
    ),
    (
        re.compile(r"^Input should be"),
        N_("ogiltigt värde"),
    ),
]


#: Groups of the patterns above that are figures, written in the reader's locale.
_DECIMALS = {"width", "least"}


def console_message(error: FieldError) -> str:
    """A field's message in the reader's language."""
    if not error.params:
        for pattern, msgid in _KNOWN:
            match = pattern.search(error.message)
            if match:
                values = match.groupdict()
                for name in _DECIMALS.intersection(values):
                    # "0,5 m" in Swedish: geodata writes its figures the English way.
                    values[name] = format_decimal(float(values[name]))
                return gettext(msgid, **values)
    return field_message(error)


def form_field(api_field: str) -> str:
    """The editor's field an API field error belongs next to."""
    parts = api_field.split(".")
    if parts[0] == "texts" and len(parts) >= 3:
        return f"{parts[1]}_{parts[2]}"
    if parts[0] == "texts":
        return f"{parts[1]}_headline" if len(parts) > 1 else "sv_headline"
    if parts[0] == "template_values" or api_field == "area.name":
        return "place"
    if parts[0] == "area":
        if len(parts) > 1 and parts[1] in ("geometry", "circle"):
            return parts[1]
        return "zones"
    if parts[0] == "center":
        return "circle"
    return parts[0] if parts[0] in FORM_FIELDS else "form"


_TEXT_LABELS = {
    "headline": N_("Rubrik"),
    "description": N_("Beskrivning"),
    "instruction": N_("Vad ska invånarna göra"),
}
_FIELD_LABELS = {
    "template": N_("Mall"),
    "place": N_("Platsnamn (områdets namn i texterna)"),
    "zones": N_("Zoner"),
    "geometry": N_("Område"),
    "circle": N_("Cirkel"),
    "category": N_("Kategori"),
    "severity": N_("Allvar"),
    "urgency": N_("Brådska"),
    "certainty": N_("Säkerhet"),
    "onset": N_("Börjar"),
    "expires": N_("Upphör"),
    "next_update": N_("Nästa besked senast"),
    "expected_restoration": N_("Beräknat klart"),
    "channels": N_("Kanaler"),
}


def field_labels() -> dict[str, str]:
    """The editor's and the all-clear's fields as their labels read, for the error summary:
    "måste fyllas i" alone does not say which of six text fields it is about."""
    found = {name: gettext(msgid) for name, msgid in _FIELD_LABELS.items()}
    for lang in LANGUAGES:
        for name, msgid in _TEXT_LABELS.items():
            found[f"{lang}_{name}"] = f"{label('language', lang)}: {gettext(msgid)}"
    return found


FORM_FIELDS = {
    "template",
    "place",
    "zones",
    "geometry",
    "circle",
    "category",
    "severity",
    "urgency",
    "certainty",
    "onset",
    "expires",
    *PROMISED,
    "channels",
    *(f"{lang}_{name}" for lang in LANGUAGES for name in TEXT_FIELDS),
}


def errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    """Messages per editor field, in the reader's language."""
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(form_field(error.field), []).append(console_message(error))
    return found


def template_choices() -> list[str]:
    return list(TEMPLATES)
