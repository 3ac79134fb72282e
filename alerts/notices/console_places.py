"""The console's place pages: the zones per municipality (size, residents, subscribers) on a
map, renaming a zone, uploading a GeoJSON or zipped Shapefile that is checked and shown
before it is saved, and the address register's size and last import.

Every operator may look (authors target zones); only admins change zones. A checked upload
is kept in the database (``zone_uploads``, so the confirming request may reach any web
process or host), named by a random token and bound to its uploader, until it is confirmed
or replaced, for an hour at most; nothing is saved before the confirmation, which runs the
same import again for real. Uploads and renames are audit
events (``zones_import``, ``zone_rename``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_wtf import FlaskForm
from shapely.geometry import mapping, shape
from sqlalchemy import select

from alerts.config import settings
from alerts.errors import Forbidden, ValidationFailed
from alerts.extensions import db
from alerts.i18n import N_
from alerts.notices import audit
from alerts.notices.reach import reach_of_area
from alerts.operators.models import Role
from alerts.operators.views import login_required, remember_language
from alerts.places import admin as places
from alerts.places.models import Zone
from alerts.places.zones import ZoneImportError, import_zones
from alerts.web.labels import field_message
from geodata.areas import simplify_for_transport

bp = Blueprint("console_places", __name__, url_prefix="/console")
bp.after_request(remember_language)


def _admin() -> None:
    if g.operator.role != Role.ADMIN:
        raise Forbidden(N_("Det här kräver rollen %(roles)s"), roles=(Role.ADMIN,))


# --- the import report in the reader's language ----------------------------------------

#: geodata's English reasons, worded for the console (msgids are Swedish). The reason is
#: shown as geodata words it when none matches (marked as English for screen readers).
_PHRASES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^the boundary crosses itself"), N_("gränsen korsar sig själv")),
    (
        re.compile(r"^a ring touches or crosses itself"),
        N_("en ring rör vid eller korsar sig själv"),
    ),
    (
        re.compile(r"^a hole lies outside its outer ring"),
        N_("ett hål ligger utanför sin yttre ring"),
    ),
    (re.compile(r"^one part lies inside another part"), N_("en del ligger inuti en annan del")),
]
_REASONS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"^(?P<what>.+?)(?: near \((?P<x>[-\d.]+), (?P<y>[-\d.]+)\))?"
            r"; repaired by splitting the boundary where it crosses$"
        ),
        N_("%(what)s%(near)s; lagat genom att gränsen delades där den korsar sig själv"),
    ),
    (
        re.compile(
            r"^(?P<part>part (?P<n>\d+)|the polygon) has no area"
            r" \(its points lie on a line\) and was dropped$"
        ),
        N_("%(part)s har ingen yta (punkterna ligger på en linje) och togs bort"),
    ),
    (
        re.compile(r"^has no name \(property (?P<prop>.+) is missing or empty\)$"),
        N_("saknar namn (egenskapen %(prop)s saknas eller är tom)"),
    ),
    (
        re.compile(r"^has no geometry$"),
        N_("saknar geometri"),
    ),
    (
        re.compile(r"^the geometry has no area"),
        N_("geometrin har ingen yta: punkterna ligger på en linje eller i en punkt"),
    ),
    (
        re.compile(r"^is not a GeoJSON Feature$"),
        N_("är inte ett GeoJSON-objekt av typen Feature"),
    ),
    (
        re.compile(r"^duplicate slug (?P<slug>'[^']*')"),
        N_("slugen %(slug)s används redan av ett annat objekt i filen"),
    ),
    (
        re.compile(r"^the file has no features$"),
        N_("filen innehåller inga objekt"),
    ),
    (
        re.compile(r"^the file is not UTF-8 text"),
        N_("filen är varken UTF-8-text eller ett zip-arkiv"),
    ),
    (
        re.compile(r"^the zip archive holds no \.shp file$"),
        N_("zip-arkivet innehåller ingen .shp-fil"),
    ),
    (
        re.compile(r"^the slug (?P<slug>'[^']*') is reserved"),
        N_("slugen %(slug)s är reserverad; ge zonen en annan slug"),
    ),
]


def reason_words(reason: str) -> tuple[str, str | None]:
    """A repair or refusal in the reader's language, and the language it is in when it is
    not the console's (geodata's own English for reasons without a translation)."""
    for pattern, msgid in _REASONS:
        match = pattern.match(reason)
        if match is None:
            continue
        values = {k: v for k, v in match.groupdict().items() if v is not None}
        if "what" in values:
            values["what"] = _phrase(values["what"])
            values["near"] = (
                gettext(" nära (%(x)s, %(y)s)", x=values.pop("x"), y=values.pop("y"))
                if "x" in values
                else ""
            )
        if "part" in values:
            n = values.pop("n", None)
            values["part"] = gettext("del %(n)s", n=n) if n else gettext("polygonen")
        return gettext(msgid, **values), None
    return reason, "en"


def _phrase(what: str) -> str:
    for pattern, msgid in _PHRASES:
        if pattern.match(what):
            return gettext(msgid)
    return what


def _where(index: int | None) -> str:
    return gettext("Objekt %(n)s", n=index) if index is not None else gettext("Filen")


# --- pages ---------------------------------------------------------------------------


def _zone_rows(zones: list[Zone]) -> list[dict[str, Any]]:
    municipality = places.municipality_of(zones)
    rows: list[dict[str, Any]] = []
    for zone in zones:
        found = reach_of_area(
            db.session, zone.geometry, [zone.min_lon, zone.min_lat, zone.max_lon, zone.max_lat]
        )
        rows.append(
            {
                "zone": zone,
                "municipality": municipality.get(zone.slug),
                "area_km2": places.area_km2(zone.geometry),
                "addresses": found.addresses,
                "subscribers": found.subscribers,
            }
        )
    rows.sort(
        key=lambda r: (
            r["municipality"] is None,
            r["municipality"] or "",
            r["zone"].kind != places.MUNICIPALITY,
            r["zone"].name,
        )
    )
    return rows


def _map(zones: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"role": "new", "headline": z["name"]},
                "geometry": mapping(simplify_for_transport(shape(z["geometry"]))),
            }
            for z in zones
        ],
    }


@bp.get("/zones")
@login_required
def zone_list():
    """Zones per municipality: size, residents and subscribers inside; the map; for admins
    the upload and rename forms."""
    zones = list(db.session.scalars(select(Zone).order_by(Zone.name)))
    rows = _zone_rows(zones)
    return render_template(
        "console/zones.html",
        rows=rows,
        map_data=_map([{"name": z.name, "geometry": z.geometry} for z in zones]),
        last=places.last_import(db.session, "zones"),
        is_admin=g.operator.role == Role.ADMIN,
        tile_url=settings().tile_url,
        tile_attribution=settings().tile_attribution,
        max_bytes=current_app.config.get("MAX_CONTENT_LENGTH"),
    )


@bp.post("/zones/<slug>/rename")
@login_required
def rename_zone(slug: str):
    _admin()
    if not FlaskForm().validate_on_submit():
        flash(gettext("Formuläret hade gått ut. Försök igen."), "error")
        return redirect(url_for(".zone_list"))
    try:
        zone, old = places.rename_zone(db.session, slug, request.form.get("name", ""))
    except ValidationFailed as exc:
        db.session.rollback()
        message = " ".join(field_message(e) for e in exc.errors or [])
        flash(gettext("Zonen fick inte det namnet: %(why)s", why=message), "error")
        return redirect(url_for(".zone_list") + f"#zone-{slug}")
    audit.record(db.session, "zone_rename", by=g.operator, zone=slug, old=old, new=zone.name)
    db.session.commit()
    flash(gettext("Zonen %(slug)s heter nu %(name)s.", slug=slug, name=zone.name), "ok")
    return redirect(url_for(".zone_list") + f"#zone-{slug}")


def _options(form: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"kind": (form.get("kind") or "zone").strip()[:50] or "zone"}
    for name in ("name_property", "slug_property"):
        value = (form.get(name) or "").strip()[:100]
        if value:
            options[name] = value
    return options


@bp.post("/zones/upload")
@login_required
def upload_zones():
    """Check an uploaded file and show what saving it would do; nothing is saved."""
    _admin()
    if not FlaskForm().validate_on_submit():
        flash(gettext("Formuläret hade gått ut. Försök igen."), "error")
        return redirect(url_for(".zone_list"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(gettext("Välj en fil att ladda upp."), "error")
        return redirect(url_for(".zone_list") + "#upload")
    data = upload.read()
    options = _options(request.form)
    preview = places.preview_zone_import(db.session, data, **options)
    db.session.rollback()
    token = None
    if preview.ok:
        token = places.keep_upload(db.session, g.operator.id, upload.filename, data, options)
    audit.record(
        db.session,
        "zones_upload",
        by=g.operator,
        filename=os.path.basename(upload.filename)[:255],
        refused=len(preview.problems),
        zones=preview.report.count if preview.report else 0,
    )
    db.session.commit()
    return render_template(
        "console/zones_upload.html",
        preview=preview,
        filename=upload.filename,
        token=token,
        problems=[(_where(i), *reason_words(r)) for i, r in preview.problems],
        repairs=[
            (_where(i), slug, *reason_words(r))
            for i, slug, r in (preview.report.repairs if preview.report else [])
        ],
        map_data=_map(preview.zones),
        form=FlaskForm(),
    ), (200 if preview.ok else 422)


@bp.post("/zones/upload/confirm")
@login_required
def confirm_zones():
    """Save the upload checked a moment ago (the same import, for real)."""
    _admin()
    if not FlaskForm().validate_on_submit():
        flash(gettext("Formuläret hade gått ut. Försök igen."), "error")
        return redirect(url_for(".zone_list"))
    pending = places.kept_upload(db.session, request.form.get("token", ""), g.operator.id)
    if pending is None:
        flash(gettext("Uppladdningen finns inte längre. Ladda upp filen igen."), "error")
        return redirect(url_for(".zone_list") + "#upload")
    filename = pending.filename
    try:
        report = import_zones(db.session, pending.data, **pending.options)
    except ZoneImportError:
        db.session.rollback()
        flash(gettext("Filen gick inte längre att importera. Ladda upp den igen."), "error")
        return redirect(url_for(".zone_list") + "#upload")
    db.session.delete(pending)
    places.record_import(
        db.session,
        "zones",
        by=g.operator.email,
        filename=filename,
        created=len(report.created),
        updated=len(report.updated),
    )
    audit.record(
        db.session,
        "zones_import",
        by=g.operator,
        filename=filename,
        created=report.created,
        updated=report.updated,
        repairs=len(report.repairs),
    )
    db.session.commit()
    flash(
        gettext(
            "Sparade %(num)s zoner: %(new)s nya, %(updated)s uppdaterade.",
            num=report.count,
            new=len(report.created),
            updated=len(report.updated),
        ),
        "ok",
    )
    return redirect(url_for(".zone_list"))


@bp.get("/register")
@login_required
def register():
    """The address register: addresses per municipality, and the last import."""
    counts, total, outside = places.addresses_per_municipality(db.session)
    last = places.last_import(db.session, "addresses")
    return render_template(
        "console/register.html",
        counts=counts,
        total=total,
        outside=outside,
        last=last,
        refusals=[
            (r.get("where", ""), *reason_words(str(r.get("why", ""))))
            for r in (last.refusals if last else [])
        ],
    )
