"""CLI commands for places: ``varsla zones import``, ``addresses import``, ``residents import``.

Each command commits once, at the end, and only when the import went
through; a refused import exits non-zero having written nothing.
"""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from .db import db

logger = logging.getLogger(__name__)

MAX_ROW_ERRORS_SHOWN = 200


def _show_row_errors(errors: list, what: str) -> None:
    """Print bad rows (at most :data:`MAX_ROW_ERRORS_SHOWN`) to standard error."""
    if not errors:
        return
    click.echo(f"{len(errors)} {what}:", err=True)
    for error in errors[:MAX_ROW_ERRORS_SHOWN]:
        click.echo(f"  {error}", err=True)
    if len(errors) > MAX_ROW_ERRORS_SHOWN:
        click.echo(f"  … and {len(errors) - MAX_ROW_ERRORS_SHOWN} more", err=True)


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
    from .zones import ZoneImportError, import_zones

    try:
        with db.begin() as session:
            report = import_zones(
                session,
                file,
                name_property=name_property,
                slug_property=slug_property,
                kind=kind,
            )
    except ZoneImportError as exc:
        click.echo(f"Nothing imported from {file}: {len(exc.problems)} problem(s)", err=True)
        for index, reason in exc.problems:
            where = f"feature {index}" if index is not None else "file"
            click.echo(f"  {where}: {reason}", err=True)
        raise SystemExit(1) from None
    for index, slug, repair in report.repairs:
        click.echo(f"  repaired feature {index} ({slug}): {repair}")
    click.echo(
        f"Imported {report.count} zones from {file} ({report.source_format}, "
        f"{report.source_crs if len(report.source_crs) < 40 else 'custom CRS'}): "
        f"{len(report.created)} new, {len(report.updated)} updated, "
        f"{len(report.repairs)} repaired"
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
    from .addresses import AddressImportError, import_addresses

    try:
        with db.begin() as session:
            report = import_addresses(session, file, synthetic=synthetic, source_crs=source_crs)
    except AddressImportError as exc:
        click.echo(f"Nothing imported from {file}: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"Imported {report.imported} addresses from {file}: {report.created} new, "
        f"{report.updated} updated, {len(report.errors)} bad rows"
    )
    _show_row_errors(report.errors, "rows not imported")


@click.group("residents")
def residents_group() -> None:
    """Residents registered from a utility's customer register."""


@residents_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--legal-basis",
    type=click.Choice(["public_task", "consent"]),
    default="public_task",
    show_default=True,
    help="GDPR basis for holding these contacts",
)
@click.option(
    "--source", "source_label", help="where the register comes from (default: the file name)"
)
@with_appcontext
def residents_import(file: str, legal_basis: str, source_label: str | None) -> None:
    """Register residents from CSV ``address,phone,email,language``; bad rows are reported."""
    from pathlib import Path

    from .addresses import geocoder_from_config
    from .errors import DomainError
    from .residents import ResidentImportError, import_residents

    label = source_label or f"import:{Path(file).name}"
    try:
        with db.begin() as session:
            report = import_residents(
                session, file, legal_basis=legal_basis, source_label=label,
                geocoder=geocoder_from_config(current_app.config),
            )  # fmt: skip
    except ResidentImportError as exc:
        click.echo(f"Nothing imported from {file}: {exc}", err=True)
        raise SystemExit(1) from None
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(
        f"Read {report.rows} rows from {file} (source {label!r}, legal basis {legal_basis}): "
        f"{report.imported} imported, {len(report.errors)} bad. "
        f"{report.subscribers_created} new subscribers, {report.subscribers_matched} rows matched "
        f"existing subscribers, {report.locations_added} addresses added, "
        f"{report.unchanged} already registered."
    )
    _show_row_errors(report.warnings, "rows imported with one contact")
    _show_row_errors(report.errors, "rows not imported")


@residents_group.command("erase")
@click.option("--phone", help="mobile number, any common form (070-123 45 67, +4670...)")
@click.option("--email", help="email address")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def residents_erase(phone: str | None, email: str | None, yes: bool) -> None:
    """Erase a resident (GDPR): contact details, addresses and every delivery to them."""
    from .erasure import erase_subscribers, find_subscribers
    from .residents import normalise_email, normalise_phone

    if not (phone or email):
        raise click.UsageError("give --phone and/or --email")
    try:
        phone = normalise_phone(phone) if phone else None
        email = normalise_email(email) if email else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with db.begin() as session:
        ids = find_subscribers(session, phone=phone, email=email)
        if not ids:
            click.echo("No resident with that phone number or email address.", err=True)
            raise SystemExit(1)
        if not yes:
            click.confirm(f"Erase {len(ids)} resident(s) and everything sent to them?", abort=True)
        erased = erase_subscribers(session, ids)
    click.echo(
        f"Erased {erased.subscribers} resident(s): {erased.locations} addresses, "
        f"{erased.deliveries} deliveries, {erased.outbox_messages} local outbox messages."
    )


COMMANDS = (zones_group, addresses_group, residents_group)
