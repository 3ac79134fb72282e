"""The application factory, and the ``varsla`` command built on it.

``create_app`` is the one place where the parts are put together: the
extensions, then each feature's ``init_app`` (its blueprints, commands, jobs,
metrics and signal receivers). Nothing is wired by importing a module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
from flask import Flask, request
from flask.cli import FlaskGroup

from alerts import cli, dispatch, notices, operators, places, public, residents
from alerts import config as configuration
from alerts.extensions import babel, csrf, db
from alerts.web import guards, headers, observability, openapi, ops, problems, templating

logger = logging.getLogger(__name__)

# Blueprints whose POSTs come from machines (API keys, Twilio, mail providers' one-click
# unsubscribe), never from a form of ours, so they carry no CSRF token.
CSRF_EXEMPT_BLUEPRINTS = (
    "api",
    "api_deliveries",
    "api_places",
    "api_public",
    "webhooks",
    "delivery_links",
)


def _select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in ("sv", "en"):
        return chosen
    # Swedish unless the reader chose English: a Swedish authority's pages default to Swedish
    # whatever the browser's language (which is often English on work machines).
    return "sv"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Assemble config, database, features and channels. Starts no background work."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="web/templates",
        static_folder="web/static",
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(configuration.load_config(app.instance_path))
    if config:
        app.config.update(config)
    configuration.init_app(app)
    observability.init_app(app)  # logging format, metrics, request ids: before the features

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    templating.init_app(app)
    problems.init_app(app)
    guards.init_app(app)
    headers.init_app(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(openapi.bp)
    cli.init_app(app)

    operators.init_app(app)
    places.init_app(app)
    notices.init_app(app)
    residents.init_app(app)
    dispatch.init_app(app)
    public.init_app(app)

    for name in CSRF_EXEMPT_BLUEPRINTS:
        csrf.exempt(app.blueprints[name])
    return app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_default_commands=False)
def main() -> None:
    """Varsla: public alerts and service notices."""
