"""CLI commands for operator accounts and API keys: ``varsla operators …``, ``varsla apikeys …``."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import click
from flask.cli import with_appcontext

from alerts.errors import DomainError
from alerts.extensions import db
from alerts.i18n import cli_gettext as _
from alerts.i18n import cli_language
from alerts.operators import accounts
from channels.base import local_time


@click.group("operators")
def operators_group() -> None:
    """Operator accounts."""


@operators_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["author", "approver", "admin"]), required=True)
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@with_appcontext
def operators_create(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create an operator; the password comes from a prompt or standard input."""
    from alerts.operators.auth import create_operator

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(_("Lösenord"), hide_input=True, confirmation_prompt=True)
    try:
        with db.begin() as session:
            operator = create_operator(session, email, role=role, password=password, name=name)
            click.echo(_("skapade %(email)s (%(role)s)", email=operator.email, role=operator.role))
    except DomainError as exc:
        raise click.ClickException(exc.in_language(cli_language())) from None


@click.group("apikeys")
def apikeys_group() -> None:
    """API keys for other systems."""


@apikeys_group.command("create")
@click.argument("email")
@click.option("--label", default="")
@with_appcontext
def apikeys_create(email: str, label: str) -> None:
    """Print a new API key acting as EMAIL (shown once, stored hashed)."""
    from sqlalchemy import select

    from alerts.operators.auth import create_api_key
    from alerts.operators.models import Operator

    with db.begin() as session:
        operator = session.scalar(select(Operator).where(Operator.email == email.strip().lower()))
        if operator is None:
            raise click.ClickException(_("ingen operatör %(email)s", email=email))
        click.echo(create_api_key(session, operator, label=label))


def _password(password_stdin: bool) -> str | None:
    return sys.stdin.readline().rstrip("\n") if password_stdin else None


def _when(moment: datetime | None) -> str:
    return local_time(moment) if moment else "-"


@operators_group.command("list")
@with_appcontext
def operators_list() -> None:
    """Operators with their role and whether they may log in."""
    with db.begin() as session:
        rows = [
            (o.email, o.role.value, "active" if o.active else "deactivated", _when(o.created_at))
            for o in accounts.list_operators(session)
        ]
    _table(("email", "role", "state", "created"), rows)


@operators_group.command("deactivate")
@click.argument("email")
@with_appcontext
def operators_deactivate(email: str) -> None:
    """End EMAIL's sessions; they can no longer log in or act through their API keys."""
    with _domain_errors(), db.begin() as session:
        operator = accounts.find_operator(session, email)
        accounts.deactivate_operator(session, operator)
        click.echo(
            _(
                "avaktiverade %(email)s; deras sessioner och API-nycklar fungerar inte längre",
                email=operator.email,
            )
        )


@operators_group.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the new password from standard input")
@with_appcontext
def operators_reset_password(email: str, password_stdin: bool) -> None:
    """Give EMAIL a new password (printed once unless read from standard input) and end
    their sessions."""
    with _domain_errors(), db.begin() as session:
        operator = accounts.find_operator(session, email)
        password = accounts.reset_password(session, operator, _password(password_stdin))
        if password_stdin:
            click.echo(
                _(
                    "nytt lösenord för %(email)s; deras sessioner har avslutats",
                    email=operator.email,
                )
            )
        else:
            click.echo(
                _(
                    "engångslösenord för %(email)s (visas en gång): %(password)s",
                    email=operator.email,
                    password=password,
                )
            )


@apikeys_group.command("list")
@with_appcontext
def apikeys_list() -> None:
    """API keys: prefix, operator, label, created, last used, revoked."""
    with db.begin() as session:
        rows = [
            (
                key.prefix,
                key.operator.email,
                key.label or "-",
                _when(key.created_at),
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
            for key in accounts.list_api_keys(session)
        ]
    _table(("prefix", "operator", "label", "created", "last used", "revoked"), rows)


@apikeys_group.command("revoke")
@click.argument("prefix")
@with_appcontext
def apikeys_revoke(prefix: str) -> None:
    """Revoke the key whose first 12 characters are PREFIX (from ``apikeys list``)."""
    with _domain_errors(), db.begin() as session:
        key = accounts.revoke_api_key(session, prefix)
        click.echo(
            _("återkallade %(prefix)s (%(email)s)", prefix=key.prefix, email=key.operator.email)
        )


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )


@contextmanager
def _domain_errors() -> Iterator[None]:
    """A refused change is one clear line and a non-zero exit, not a traceback."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(exc.in_language(cli_language())) from None


COMMANDS = (operators_group, apikeys_group)
