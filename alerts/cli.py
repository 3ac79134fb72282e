"""The ``varsla`` command (also ``flask --app wsgi ...``)."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .db import db

logger = logging.getLogger(__name__)


def _create_app() -> Flask:
    from .app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Varsla: public alerts and service notices."""


def register_commands(app: Flask) -> None:
    for command in (db_group, operators_group, apikeys_group, serve, scheduler, demo):
        app.cli.add_command(command)
    from .dispatch.commands import worker

    app.cli.add_command(worker)
    from .cli_places import COMMANDS as place_commands

    for command in place_commands:
        app.cli.add_command(command)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Create or migrate the schema (safe to run again)."""
    from .migrate import upgrade

    upgrade(db.engine)
    click.echo(f"database at {db.engine.url.render_as_string(hide_password=True)} is up to date")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a migration for model changes (developers)."""
    from .migrate import revision

    revision(db.engine, message)


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
    from .auth import create_operator
    from .errors import DomainError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with db.begin() as session:
            operator = create_operator(session, email, role=role, password=password, name=name)
            click.echo(f"created {operator.email} ({operator.role})")
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None


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

    from .auth import create_api_key
    from .models import Operator

    with db.begin() as session:
        operator = session.scalar(select(Operator).where(Operator.email == email.strip().lower()))
        if operator is None:
            raise click.ClickException(f"no operator {email}")
        click.echo(create_api_key(session, operator, label=label))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int, threads: int) -> None:
    """Web, dispatcher and scheduler in one process (the embedded default)."""
    from waitress import serve as waitress_serve

    from .scheduling import build_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app)
    scheduler.start()
    stoppers = [starter(app) for starter in background_services]

    def _terminate(signum: int, _frame: object) -> None:
        # systemd and container runtimes stop a service with SIGTERM; waitress returns
        # from serve() on KeyboardInterrupt, so both end up in the finally below.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    click.echo(f"Varsla on http://{host}:{port}/  (console: /console/, health: /healthz)")
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="varsla")
    finally:
        click.echo("Varsla stopping: finishing the sends in flight")
        for stop in reversed(stoppers):
            stop()
        scheduler.shutdown(wait=False)
        click.echo("Varsla stopped")


#: Functions that start background work inside ``varsla serve`` (the embedded dispatcher).
#: Each takes the app and returns a function that stops the work, waiting for what it holds.
background_services: list[Callable[[Flask], Callable[[], None]]] = []


@click.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Only the scheduler (scale-out; run on as many hosts as you like)."""
    from .scheduling import build_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"scheduler ticking every {app.config['VARSLA_SCHEDULER_INTERVAL_S']} s")
    build_scheduler(app, blocking=True).start()


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load demo zones, address register, operators and subscribers."""
    from .demo import load_demo

    with db.begin() as session:
        for line in load_demo(session):
            click.echo(line)
