"""``varsla worker``: a dispatcher process for scale-out (PostgreSQL)."""

from __future__ import annotations

import logging
import signal

import click
from flask import current_app
from flask.cli import with_appcontext

from alerts.i18n import cli_gettext as _

logger = logging.getLogger(__name__)


@click.command("worker")
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="sends in flight (default VARSLA_SEND_CONCURRENCY, 200)",
)
@click.option("--batch-size", type=int, default=200, show_default=True, help="rows per claim")
@click.option("--lease-seconds", type=float, default=None, help="lease per claim (default 120)")
@click.option(
    "--fanout-chunk",
    type=int,
    default=None,
    help="subscribers per fan-out chunk, one transaction each (default 5000)",
)
@click.option("--once", is_flag=True, help="stop when nothing is due (cron, tests)")
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    help="serve this process's Prometheus metrics on 127.0.0.1:PORT (0: off)",
)
@with_appcontext
def worker(
    concurrency: int | None,
    batch_size: int,
    lease_seconds: float | None,
    fanout_chunk: int | None,
    once: bool,
    metrics_port: int,
) -> None:
    """Dispatcher only: expand fan-out jobs, claim due deliveries and send them (run any
    number, on any hosts).

    VARSLA_SMS_RATE and VARSLA_EMAIL_RATE (messages per second, 0 = unlimited)
    are the provider's limit for the whole installation: all workers share them
    through the database, so do not divide them by the number of workers.
    """
    from sqlalchemy.orm import sessionmaker

    from alerts.db import is_postgres, make_engine
    from alerts.dispatch.worker import Dispatcher, DispatcherSettings, settle_heap
    from alerts.extensions import db as database

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    assert database.engine is not None
    sessions = None
    if is_postgres(database.engine):
        # No ping before each transaction: the dispatcher waits out and retries a dropped
        # connection itself (SQLAlchemy then refreshes the pool), and the ping was a round
        # trip more for every claim, record and fan-out look.
        engine = make_engine(
            database.engine.url.render_as_string(hide_password=False), pool_pre_ping=False
        )
        sessions = sessionmaker(engine, expire_on_commit=False)
    else:
        logger.warning(
            "varsla worker on SQLite: run exactly one dispatcher (this, or varsla serve's)"
        )
    settings = DispatcherSettings.from_app(
        app,
        concurrency=concurrency,
        batch_size=batch_size,
        lease_s=lease_seconds,
        fanout_chunk=fanout_chunk,
    )
    dispatcher = Dispatcher(app, settings, sessions=sessions)
    if metrics_port:
        from alerts.web.observability import serve_metrics

        serve_metrics(app, metrics_port)

    def _stop(signum: int, _frame: object) -> None:
        logger.info("worker %s: signal %d, finishing what it holds", dispatcher.owner, signum)
        dispatcher.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(
        _(
            "arbetare %(owner)s: samtidighet %(concurrency)s, sats %(batch)s, takt %(rates)s",
            owner=dispatcher.owner,
            concurrency=settings.concurrency,
            batch=settings.batch_size,
            rates=settings.rates,
        )
    )
    settle_heap()
    counts = dispatcher.run(until_idle=once)
    click.echo(
        _("arbetare %(owner)s har stannat: %(counts)s", owner=dispatcher.owner, counts=counts)
    )
