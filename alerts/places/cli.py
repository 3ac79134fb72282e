"""CLI commands for places: ``varsla zones import`` and ``varsla addresses import``.

Each command commits once, at the end, and only when the import went
through; a refused import exits non-zero having written nothing.
"""

from __future__ import annotations

import logging

import click
from flask.cli import with_appcontext

from alerts.cli import rows_not_imported, show_row_errors
from alerts.extensions import db
from alerts.i18n import cli_gettext as _
from alerts.i18n import cli_ngettext as ngettext
from geodata.textfiles import shown

logger = logging.getLogger(__name__)


@click.group("zones")
def zones_group() -> None:
    """Zones notices can target (water-supply areas, districts, municipalities)."""


@zones_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name-property", help="the property holding each zone's name (default: guessed)")
@click.option("--slug-property", help="the property holding each zone's slug (default: from name)")
@click.option(
    "--kind",
    default="zone",
    show_default=True,
    help="kind of zone, e.g. water_supply or municipality (a 'kind' property overrides it)",
)
@with_appcontext
def zones_import(
    file: str, name_property: str | None, slug_property: str | None, kind: str
) -> None:
    """Import zones from GeoJSON (any CRS it declares) or a zipped Shapefile; all or nothing."""
    from alerts.places.admin import record_import
    from alerts.places.zones import ZoneImportError, import_zones

    try:
        with db.begin() as session:
            report = import_zones(
                session,
                file,
                name_property=name_property,
                slug_property=slug_property,
                kind=kind,
            )
            record_import(
                session,
                "zones",
                by="CLI",
                filename=file,
                created=len(report.created),
                updated=len(report.updated),
            )
    except ZoneImportError as exc:
        problems = ngettext("%(num)d problem", "%(num)d problem", len(exc.problems))
        click.echo(_("Inget importerades från %(file)s: ", file=file) + problems, err=True)
        for index, reason in exc.problems:
            where = _("objekt %(index)s", index=index) if index is not None else _("filen")
            click.echo(f"  {where}: {shown(reason)}", err=True)
        raise SystemExit(1) from None
    for index, slug, repair in report.repairs:
        click.echo(
            "  " + _("lagade objekt %(index)s (%(slug)s): ", index=index, slug=slug) + shown(repair)
        )
    crs = report.source_crs if len(report.source_crs) < 40 else _("eget koordinatsystem")
    click.echo(
        ngettext(
            "Importerade %(num)d zon från %(file)s (%(format)s, %(crs)s): ",
            "Importerade %(num)d zoner från %(file)s (%(format)s, %(crs)s): ",
            report.count,
            file=file,
            format=report.source_format,
            crs=crs,
        )
        + _(
            "%(new)s nya, %(updated)s uppdaterade, %(repaired)s lagade",
            new=len(report.created),
            updated=len(report.updated),
            repaired=len(report.repairs),
        )
    )


@click.group("addresses")
def addresses_group() -> None:
    """The address register residents subscribe by."""


@addresses_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--crs",
    "source_crs",
    help="CRS of the coordinates, e.g. EPSG:3006 (default: WGS 84 or as declared)",
)
@click.option("--synthetic", is_flag=True, help="mark the addresses as invented (demo data)")
@with_appcontext
def addresses_import(file: str, source_crs: str | None, synthetic: bool) -> None:
    """Import an address register: OpenAddresses CSV or GeoJSON points."""
    from alerts.places.admin import record_import
    from alerts.places.register import AddressImportError, import_addresses

    try:
        with db.begin() as session:
            report = import_addresses(session, file, synthetic=synthetic, source_crs=source_crs)
            record_import(
                session,
                "addresses",
                by="CLI",
                filename=file,
                created=report.created,
                updated=report.updated,
                refusals=[(f"{e.kind} {e.location}", e.reason) for e in report.errors],
            )
    except AddressImportError as exc:
        click.echo(_("Inget importerades från %(file)s: ", file=file) + shown(exc), err=True)
        raise SystemExit(1) from None
    click.echo(
        ngettext(
            "Importerade %(num)d adress från %(file)s: ",
            "Importerade %(num)d adresser från %(file)s: ",
            report.imported,
            file=file,
        )
        + _(
            "%(new)s nya, %(updated)s uppdaterade, %(bad)s felaktiga rader",
            new=report.created,
            updated=report.updated,
            bad=len(report.errors),
        )
    )
    show_row_errors(report.errors, rows_not_imported)


COMMANDS = (zones_group, addresses_group)
