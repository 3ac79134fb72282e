"""The installation-wide ``varsla`` commands: ``db upgrade``, ``serve``, ``scheduler``, ``demo``.

The command group itself is :func:`alerts.app.main`; each feature adds its commands in
its ``init_app``.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from alerts.config import settings
from alerts.extensions import db
from alerts.i18n import cli_gettext as _
from alerts.i18n import cli_ngettext as ngettext
from geodata.textfiles import shown

logger = logging.getLogger(__name__)

#: Starts background work in ``varsla serve``; answers the function that stops it.
BackgroundService = Callable[[Flask], Callable[[], None]]


def init_app(app: Flask) -> None:
    """The commands of the whole installation; features add their own in their ``init_app``."""
    for command in (db_group, serve, scheduler, demo):
        app.cli.add_command(command)


def register_background_service(app: Flask, start: BackgroundService) -> None:
    """Have ``varsla serve`` run ``start(app)`` beside the web server (the embedded dispatcher).

    ``start`` returns the function that stops the work, waiting for what it holds.
    """
    services = app.extensions.setdefault("varsla_background_services", [])
    if start not in services:
        services.append(start)


MAX_ROW_ERRORS_SHOWN = 200


def show_row_errors(errors: list, heading: Callable[[int], str]) -> None:
    """Print bad rows (at most :data:`MAX_ROW_ERRORS_SHOWN`) to standard error.

    ``heading(count)`` says what they are, e.g. "3 rows not imported".
    """
    if not errors:
        return
    click.echo(f"{heading(len(errors))}:", err=True)
    for error in errors[:MAX_ROW_ERRORS_SHOWN]:
        click.echo(f"  {shown(error)}", err=True)
    if len(errors) > MAX_ROW_ERRORS_SHOWN:
        more = len(errors) - MAX_ROW_ERRORS_SHOWN
        click.echo("  " + _("… och %(count)s till", count=more), err=True)


def rows_not_imported(count: int) -> str:
    """The heading of rows an import left out: "3 rows not imported"."""
    return ngettext("%(num)d rad importerades inte", "%(num)d rader importerades inte", count)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Create or migrate the schema (safe to run again)."""
    from alerts.migrate import upgrade

    upgrade(db.require_engine())
    url = db.require_engine().url.render_as_string(hide_password=True)
    click.echo(_("databasen på %(url)s är uppdaterad", url=url))


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a migration for model changes (developers)."""
    from alerts.migrate import revision

    revision(db.require_engine(), message)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int, threads: int) -> None:
    """Web, dispatcher and scheduler in one process (the embedded default)."""
    from waitress import serve as waitress_serve

    from alerts.scheduling import build_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app)
    scheduler.start()
    stoppers = [start(app) for start in app.extensions.get("varsla_background_services", [])]

    def _terminate(signum: int, _frame: object) -> None:
        # systemd and container runtimes stop a service with SIGTERM; waitress returns
        # from serve() on KeyboardInterrupt, so both end up in the finally below.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    click.echo(
        _(
            "Varsla på http://%(host)s:%(port)s/  (konsol: /console/, hälsa: /healthz)",
            host=host,
            port=port,
        )
    )
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="varsla")
    finally:
        click.echo(_("Varsla stannar: gör klart utskicken som pågår"))
        for stop in reversed(stoppers):
            stop()
        scheduler.shutdown(wait=False)
        click.echo(_("Varsla har stannat"))


@click.command("scheduler")
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    help="serve this process's Prometheus metrics on 127.0.0.1:PORT (0: off)",
)
@with_appcontext
def scheduler(metrics_port: int) -> None:
    """Only the scheduler (scale-out; run on as many hosts as you like)."""
    from alerts.scheduling import build_scheduler

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if metrics_port:
        from alerts.web.observability import serve_metrics

        serve_metrics(app, metrics_port)
    interval = settings(app).scheduler_interval_s
    click.echo(_("schemaläggaren tickar var %(seconds)s s", seconds=interval))
    build_scheduler(app, blocking=True).start()


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Load demo zones, address register, operators and subscribers."""
    from alerts.demo import load_demo

    with db.begin() as session:
        for line in load_demo(session):
            click.echo(line)
