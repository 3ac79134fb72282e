"""The application factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import Babel
from flask_wtf import CSRFProtect

from .config import load_config
from .db import db

logger = logging.getLogger(__name__)

csrf = CSRFProtect()
babel = Babel()


def _select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in ("sv", "en"):
        return chosen
    # Swedish unless the reader chose English: a Swedish authority's pages default to Swedish
    # whatever the browser's language (which is often English on work machines).
    return "sv"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Assemble config, database, blueprints and channels. Starts no background work."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="web/templates",
        static_folder="web/static",
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", logging.INFO))

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)

    from .web import register_blueprints

    register_blueprints(app)

    from .cli import register_commands

    register_commands(app)
    return app
