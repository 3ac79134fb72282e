"""CLI commands for residents: ``varsla residents import`` (a utility's customer register)
and ``varsla residents erase`` (GDPR).

Each command commits once, at the end, and only when it went through.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from alerts.cli import rows_not_imported, show_row_errors
from alerts.config import settings
from alerts.extensions import db
from alerts.i18n import cli_gettext as _
from alerts.i18n import cli_language
from alerts.i18n import cli_ngettext as ngettext
from geodata.textfiles import shown


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
        click.echo(_("Inget importerades från %(file)s: ", file=file) + shown(exc), err=True)
        raise SystemExit(1) from None
    except DomainError as exc:
        raise click.ClickException(exc.in_language(cli_language())) from None
    click.echo(
        ngettext(
            "Läste %(num)d rad från %(file)s (källa %(source)s, rättslig grund %(basis)s): ",
            "Läste %(num)d rader från %(file)s (källa %(source)s, rättslig grund %(basis)s): ",
            report.rows,
            file=file,
            source=repr(label),
            basis=legal_basis,
        )
        + _(
            "%(imported)s importerade, %(bad)s felaktiga. %(created)s nya prenumeranter, "
            "%(matched)s rader matchade befintliga prenumeranter, %(added)s adresser tillagda, "
            "%(unchanged)s redan registrerade.",
            imported=report.imported,
            bad=len(report.errors),
            created=report.subscribers_created,
            matched=report.subscribers_matched,
            added=report.locations_added,
            unchanged=report.unchanged,
        )
    )
    show_row_errors(report.warnings, _imported_with_one_contact)
    show_row_errors(report.errors, rows_not_imported)


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
        raise click.UsageError(_("ange --phone och/eller --email"))
    try:
        phone = normalise_phone(phone) if phone else None
        email = normalise_email(email) if email else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with db.begin() as session:
        ids = find_subscribers(session, phone=phone, email=email)
        if not ids:
            click.echo(
                _("Ingen invånare med det telefonnumret eller den e-postadressen."), err=True
            )
            raise SystemExit(1)
        if not yes:
            question = ngettext(
                "Radera %(num)d invånare och allt som skickats till hen?",
                "Radera %(num)d invånare och allt som skickats till dem?",
                len(ids),
            )
            click.confirm(question, abort=True)
        erased = erase_subscribers(session, ids)
    click.echo(
        ngettext("Raderade %(num)d invånare: ", "Raderade %(num)d invånare: ", erased.subscribers)
        + ", ".join(
            [
                ngettext("%(num)d adress", "%(num)d adresser", erased.locations),
                ngettext("%(num)d utskick", "%(num)d utskick", erased.deliveries),
                ngettext(
                    "%(num)d meddelande i den lokala utkorgen",
                    "%(num)d meddelanden i den lokala utkorgen",
                    erased.outbox_messages,
                ),
            ]
        )
        + "."
    )


def _imported_with_one_contact(count: int) -> str:
    return ngettext(
        "%(num)d rad importerades med en kontaktväg",
        "%(num)d rader importerades med en kontaktväg",
        count,
    )


COMMANDS = (residents_group,)
