"""Dispatch: the delivery outbox and the workers that empty it.

Here live the delivery models (``models``), the messages that tell approvers a revision
waits for them (``approvals``), the fan-out that writes one row per
(revision, subscriber, channel) when a revision goes out (``fanout``), claims
under a lease (``claim``), the dispatcher loop (``worker``), outcomes and
provider receipts (``outcomes``), the shared send rate (``ratelimit``),
retention, the Twilio webhooks, the links in messages, the delivery API and
the console's outbox, and ``varsla worker``.

May import: ``alerts.notices``, ``alerts.residents``, ``alerts.places`` (models
and queries), ``channels``, ``geodata`` and the shared modules of ``alerts``.
Nothing outside this folder imports the dispatcher's internals; the notices
feature reaches it through :data:`alerts.signals.revision_released`,
:data:`alerts.signals.revision_submitted` and :data:`alerts.signals.approval_requested`
(the API's submits, told at once), and only its console pages call in here (reports,
and sending the approval messages at once after a submit).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Fan-out on every released revision, the dispatch jobs, metrics, HTTP and commands."""
    from alerts.cli import register_background_service
    from alerts.dispatch import (
        api,
        approvals,
        cli,
        console,
        exercise_console,
        fanout,
        jobs,
        links,
        metrics,
        webhooks,
        worker,
    )
    from alerts.scheduling import register_job
    from alerts.signals import approval_requested, revision_released, revision_submitted

    revision_released.connect(fanout.on_revision_released)
    revision_submitted.connect(approvals.on_revision_submitted)
    approval_requested.connect(approvals.on_approval_requested)
    register_job(app, "reclaim_leases", jobs.reclaim_leases)
    register_job(app, "drop_stale_deliveries", jobs.drop_stale_deliveries)
    register_job(app, "purge_expired_deliveries", jobs.purge_expired_deliveries)
    register_job(app, "purge_old_exercises", jobs.purge_old_exercises)
    register_job(app, "send_approval_messages", jobs.send_approval_messages)
    metrics.init_app(app)
    register_background_service(app, worker.start_embedded)
    for blueprint in (api.bp, webhooks.bp, links.bp, console.bp, exercise_console.bp):
        app.register_blueprint(blueprint)
    api.document(app)
    app.cli.add_command(cli.worker)
