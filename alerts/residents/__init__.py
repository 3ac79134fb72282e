"""Residents: subscribers, sign-up, verification, their choices, opt-out and data rights.

Here live the subscriber models (``models``), sign-up and verification
(``signup``, ``verification``, ``contacts``, ``tokens``), the limits against
SMS pumping (``limits``), what is sent after a commit (``outgoing``), the
manage page's operations (``manage``), inbound SMS words (``inbound``), the
bulk import from a utility's customer register (``register_import``),
erasure (``erasure``), the pages (``views``), the JSON API (``api``,
``schemas``), the purge jobs (``jobs``) and ``varsla residents import``/``erase``
(``cli``).

May import ``alerts.places`` (the address register), ``alerts.dispatch``'s
channel factories, models and message links, ``alerts.public``'s page rules,
``geodata``, ``channels`` and the shared modules of ``alerts``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The residents' pages, API, jobs and commands. (Their errors, a rate limit's
    ``retry_after_s`` and an unknown address's ``suggestions`` included, are answered by
    ``alerts.web.problems`` like every domain error.)"""
    from alerts.extensions import csrf
    from alerts.residents import api, cli, jobs, views
    from alerts.scheduling import register_job

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    # Machines call the API; the pages' forms carry the resident's secret link in their
    # URL or do what the open API does (see alerts.residents.views), so no CSRF token.
    csrf.exempt(api.bp)
    csrf.exempt(views.bp)
    api.document(app)

    for name, job in jobs.JOBS.items():
        register_job(app, name, job)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
