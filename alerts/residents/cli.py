"""CLI commands for residents: ``varsla residents import`` (a utility's customer register)
and ``varsla residents erase`` (GDPR).

Each command commits once, at the end, and only when it went through.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from alerts.cli import show_row_errors
from alerts.config import settings
from alerts.extensions import db


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

    from alerts.errors import DomainError
    from alerts.places.register import configured_geocoder
    from alerts.residents.register_import import ResidentImportError, import_residents

    label = source_label or f"import:{Path(file).name}"
    try:
        with db.begin() as session:
            report = import_residents(
                session, file, legal_basis=legal_basis, source_label=label,
                geocoder=configured_geocoder(settings()),
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
    show_row_errors(report.warnings, "rows imported with one contact")
    show_row_errors(report.errors, "rows not imported")


@residents_group.command("erase")
@click.option("--phone", help="mobile number, any common form (070-123 45 67, +4670...)")
@click.option("--email", help="email address")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def residents_erase(phone: str | None, email: str | None, yes: bool) -> None:
    """Erase a resident (GDPR): contact details, addresses and every delivery to them."""
    from alerts.residents.erasure import erase_subscribers, find_subscribers
    from alerts.residents.register_import import normalise_email, normalise_phone

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


COMMANDS = (residents_group,)
