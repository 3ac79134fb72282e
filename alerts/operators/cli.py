"""CLI commands for operator accounts and API keys: ``varsla operators …``, ``varsla apikeys …``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from alerts.extensions import db
from alerts.i18n import cli_gettext as _
from alerts.i18n import cli_language


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
    from alerts.errors import DomainError
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


COMMANDS = (operators_group, apikeys_group)
