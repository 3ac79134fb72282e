"""The dispatch feature's metrics (declared by ``alerts.dispatch.init_app``).

Recorded as things happen (counters and histograms, per process; summed over
processes under ``PROMETHEUS_MULTIPROC_DIR``):

- ``varsla_delivery_outcomes_total{channel,status}``: outcomes as workers record them
  (accepted, retry, failed, dropped, opted_out, lost = a lease taken back);
- ``varsla_send_duration_seconds{channel}``: one provider call;
- ``varsla_provider_errors_total{channel,code}``: provider answers other than accepted;
- ``varsla_fanout_rows_total{channel}`` and ``varsla_fanout_duration_seconds``;
- ``varsla_dispatch_batches_total``: batches of outcomes recorded.

Read from the database at scrape (true for the whole installation):

- ``varsla_deliveries{channel,status}``: rows by status;
- ``varsla_queue_depth{channel,status}``: pending and sending rows;
- ``varsla_queue_oldest_due_age_seconds{channel}``: how long the oldest due pending row
  has waited past its ``not_before`` (0 when none is due): grows when workers are
  down or cannot keep up;
- ``varsla_publish_to_first_send_seconds{channel}``: for the latest revision sent out,
  from its publish (its fan-out job written) to its first send recorded;
- ``varsla_fanout_jobs_open{state}``: fan-out jobs not yet written to their end
  (pending: no chunk yet; expanding), and ``varsla_fanout_oldest_open_age_seconds``:
  how long the oldest has been open (grows when no worker expands it);
  ``varsla_fanout_jobs_failing``: open jobs whose last chunk failed (each waits, then is
  tried again; the others go ahead).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, has_app_context
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from alerts.dispatch.models import Delivery, DeliveryStatus, FanoutJob, FanoutState
from alerts.orm import utcnow
from alerts.web.observability import Metrics, metrics_of

D = DeliveryStatus
FANOUT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass(frozen=True)
class DispatchMetrics:
    outcomes: Counter
    send_seconds: Histogram
    provider_errors: Counter
    fanout_rows: Counter
    fanout_seconds: Histogram
    batches: Counter

    @classmethod
    def declare(cls, metrics: Metrics) -> DispatchMetrics:
        return cls(
            outcomes=metrics.counter(
                "varsla_delivery_outcomes",
                "Send outcomes as workers record them, by channel and status.",
                ["channel", "status"],
            ),
            send_seconds=metrics.histogram(
                "varsla_send_duration_seconds", "One provider call, by channel.", ["channel"]
            ),
            provider_errors=metrics.counter(
                "varsla_provider_errors",
                "Provider answers other than accepted, by channel and error code.",
                ["channel", "code"],
            ),
            fanout_rows=metrics.counter(
                "varsla_fanout_rows", "Delivery rows written by fan-outs.", ["channel"]
            ),
            fanout_seconds=metrics.histogram(
                "varsla_fanout_duration_seconds",
                "From a revision's publish to its last delivery row written.",
                buckets=FANOUT_BUCKETS,
            ),
            batches=metrics.counter(
                "varsla_dispatch_batches", "Batches of send outcomes recorded by workers."
            ),
        )


def init_app(app: Flask) -> DispatchMetrics:
    """Declare the dispatch metrics on ``app`` and read the queue at every scrape."""
    metrics = metrics_of(app)
    declared = DispatchMetrics.declare(metrics)
    app.extensions["varsla_dispatch_metrics"] = declared
    metrics.add_collector(delivery_metrics)
    return declared


def of(app: Flask | None = None) -> DispatchMetrics | None:
    """The dispatch metrics of ``app`` (or the current app, when there is one)."""
    if app is None:
        if not has_app_context():
            return None
        app = current_app
    return app.extensions.get("varsla_dispatch_metrics")


def delivery_metrics(session: Session) -> list[Metric]:
    """The outbox as the database has it: rows by status, the queue, publish to first send."""
    deliveries = GaugeMetricFamily(
        "varsla_deliveries", "Deliveries by channel and status.", labels=["channel", "status"]
    )
    for channel, status, count in sorted(
        session.execute(
            select(Delivery.channel, Delivery.status, func.count()).group_by(
                Delivery.channel, Delivery.status
            )
        ).all()
    ):
        deliveries.add_metric([channel, str(status)], count)

    now = utcnow()
    depth = GaugeMetricFamily(
        "varsla_queue_depth",
        "Deliveries waiting (pending) or being sent (sending), by channel.",
        labels=["channel", "status"],
    )
    oldest = GaugeMetricFamily(
        "varsla_queue_oldest_due_age_seconds",
        "Seconds the oldest due pending delivery has waited past its not_before.",
        labels=["channel"],
    )
    rows = session.execute(
        select(
            Delivery.channel,
            Delivery.status,
            func.count(),
            func.min(case((Delivery.not_before <= now, Delivery.not_before))),
        )
        .where(Delivery.status.in_([D.PENDING, D.SENDING]))
        .group_by(Delivery.channel, Delivery.status)
    ).all()
    seen: dict[str, float] = {"sms": 0.0, "email": 0.0}
    counts = {(c, s): 0 for c in seen for s in (D.PENDING, D.SENDING)}
    for channel, status, count, due_since in rows:
        counts[(channel, D(status))] = count
        if D(status) == D.PENDING and due_since is not None:
            if due_since.tzinfo is None:  # SQLite hands back naive UTC
                due_since = due_since.replace(tzinfo=now.tzinfo)
            seen[channel] = max(0.0, (now - due_since).total_seconds())
    for (channel, status), count in sorted(counts.items()):
        depth.add_metric([channel, str(status)], count)
    for channel, age in sorted(seen.items()):
        oldest.add_metric([channel], age)

    first_send = GaugeMetricFamily(
        "varsla_publish_to_first_send_seconds",
        "For the latest revision sent out: seconds from its fan-out to its first send recorded.",
        labels=["channel"],
    )
    latest = session.scalar(
        select(Delivery.revision_id)
        .where(Delivery.sent_at.is_not(None))
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    if latest is not None:
        published = session.scalar(
            select(FanoutJob.created_at).where(FanoutJob.revision_id == latest)
        )
        for channel, written, first in session.execute(
            select(Delivery.channel, func.min(Delivery.created_at), func.min(Delivery.sent_at))
            .where(Delivery.revision_id == latest)
            .group_by(Delivery.channel)
        ).all():
            written = published or written
            if written is not None and first is not None:
                first_send.add_metric([channel], max(0.0, (first - written).total_seconds()))

    jobs = GaugeMetricFamily(
        "varsla_fanout_jobs_open",
        "Fan-out jobs not yet written to their end, by state.",
        labels=["state"],
    )
    job_age = GaugeMetricFamily(
        "varsla_fanout_oldest_open_age_seconds",
        "Seconds since the oldest open fan-out job was published (0 when none is open).",
    )
    open_states = [FanoutState.PENDING, FanoutState.EXPANDING]
    open_jobs = dict.fromkeys(open_states, 0)
    since = None
    for state, count, created in session.execute(
        select(FanoutJob.state, func.count(), func.min(FanoutJob.created_at))
        .where(FanoutJob.state.in_(open_states))
        .group_by(FanoutJob.state)
    ).all():
        open_jobs[FanoutState(state)] = count
        if created is not None and created.tzinfo is None:  # SQLite hands back naive UTC
            created = created.replace(tzinfo=now.tzinfo)
        since = created if since is None or created < since else since
    for state, count in open_jobs.items():
        jobs.add_metric([str(state)], count)
    job_age.add_metric([], max(0.0, (now - since).total_seconds()) if since else 0.0)
    failing = GaugeMetricFamily(
        "varsla_fanout_jobs_failing",
        "Open fan-out jobs whose last chunk failed, waiting to be tried again.",
    )
    failing.add_metric(
        [],
        session.scalar(
            select(func.count())
            .select_from(FanoutJob)
            .where(FanoutJob.state.in_(open_states), FanoutJob.retry_at.is_not(None))
        )
        or 0,
    )
    return [deliveries, depth, oldest, first_send, jobs, job_age, failing]
