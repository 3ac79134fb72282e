"""HTTP: the JSON API, the operator console, public pages and operations endpoints."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import api, console, ops, problems

    problems.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(__import__("alerts.web.api_places", fromlist=["bp"]).bp)
    from .api_deliveries import register as register_dispatch

    register_dispatch(app)
    app.register_blueprint(__import__("alerts.web.feeds", fromlist=["bp"]).bp)
    app.register_blueprint(__import__("alerts.web.public", fromlist=["bp"]).bp)
    app.register_blueprint(__import__("alerts.web.api_public", fromlist=["bp"]).bp)
