"""Notices: drafting, the two-person lifecycle, revisions, ready wording, audit.

Here live the notice, revision and audit models (``models``), the lifecycle
table (``lifecycle``), the operations that move a notice along it and never
commit (``operations``), the ready wording per category (``notice_templates``),
the input schemas of the API (``schemas``), revisions as channels see them
(``snapshots``), the JSON API for notices (``api``), the console's notice
pages (``console``) and its zone and register pages (``console_places``).

May import: ``alerts.operators``, ``alerts.places`` (areas and zones),
``channels.base`` and the shared modules of ``alerts``. Only the console's pages
(``console*.py``) may import ``alerts.dispatch``, to show delivery progress and the
previews composed as the dispatcher composes them; the models, operations and API must
not: a released revision is announced with :data:`alerts.signals.revision_released`
(``tests/test_structure.py`` checks this).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The notices API and console pages, the activation and expiry jobs, the notice gauge."""
    from alerts.notices import api, console, console_admin, console_places, jobs
    from alerts.scheduling import register_job
    from alerts.web.ops import register_metrics

    app.register_blueprint(api.bp)
    api.document(app)
    app.register_blueprint(console.bp)
    app.register_blueprint(console_admin.bp)
    app.register_blueprint(console_places.bp)
    register_job(app, "activate_due", jobs.activate_due)
    register_job(app, "expire_ended", jobs.expire_ended)
    register_metrics(app, jobs.notice_metrics)
