"""Periodic jobs with APScheduler 3. Each job is idempotent, so any number of
schedulers may run against one database.

The scheduler is never started by ``create_app``: ``varsla serve`` and
``varsla scheduler`` start it, so web workers do not each run one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.extensions import db
from alerts.web.observability import metrics_of

logger = logging.getLogger(__name__)
# APScheduler logs every tick at INFO; our jobs log what they did themselves.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

#: A job takes a Session (the tick's transaction) and answers what it did, for the log.
Job = Callable[[Session], object]


def register_job(app: Flask, name: str, job: Job) -> None:
    """Tick ``job`` in every scheduler of this app; features call this in their ``init_app``."""
    app.extensions.setdefault("varsla_jobs", {})[name] = job
    _job_metrics(app)


def _job_metrics(app: Flask):
    """(runs, failures): the scheduler's counters, by job."""
    metrics = metrics_of(app)
    return (
        metrics.counter("varsla_scheduler_job_runs", "Scheduler job runs.", ["job"]),
        metrics.counter(
            "varsla_scheduler_job_failures", "Scheduler job runs that failed.", ["job"]
        ),
    )


def registered_jobs(app: Flask) -> dict[str, Job]:
    return dict(app.extensions.get("varsla_jobs", {}))


def run_job(app: Flask, name: str, job: Callable[[Session], object]) -> None:
    """Run one job in its own transaction; a failure is logged and retried next tick."""
    runs, failures = _job_metrics(app)
    with app.app_context():
        runs.labels(name).inc()
        try:
            with db.begin() as session:
                result = job(session)
            if result:
                logger.info(
                    "job %s: %s",
                    name,
                    result if not isinstance(result, list) else len(result),
                    extra={"event": "job", "job": name},
                )
        except Exception:
            failures.labels(name).inc()
            logger.exception(
                "job %s failed; it runs again next tick", name, extra={"event": "job", "job": name}
            )


def run_all_once(app: Flask) -> None:
    for name, job in registered_jobs(app).items():
        run_job(app, name, job)


def build_scheduler(app: Flask, *, blocking: bool = False):
    """A scheduler ticking every job every ``VARSLA_SCHEDULER_INTERVAL_S`` seconds."""
    scheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    interval = settings(app).scheduler_interval_s
    for name, job in registered_jobs(app).items():
        scheduler.add_job(
            run_job,
            "interval",
            seconds=interval,
            args=[app, name, job],
            id=name,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),  # first run at once, not one interval after start
        )
    return scheduler
