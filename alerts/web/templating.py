"""What every template may use: the reader's language, local time and value labels.

Flask-Babel installs ``_``, ``gettext``, ``ngettext`` and ``pgettext`` (Jinja's i18n
extension, new style: ``_('Sida %(page)s', page=2)``). On top of that, for the
console and the public pages alike:

- ``lang``: ``sv`` or ``en``, the page's language (``<html lang>``);
- ``value|localtime`` (``2026-11-24 08:15``), ``value|localtime(seconds=True)``:
  a UTC time or ISO string on a Swedish clock;
- ``value|decimal(digits)``: a number as the reader writes it (``3 125,7``, ``3,125.7``);
- ``label(kind, value)``: a stored value in words; ``error_message(exc)``,
  ``field_message(error)``: a domain error in words (``alerts.web.labels``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.numbers import format_decimal
from flask import Flask, Response, request
from flask_babel import get_locale, refresh

from alerts.web.labels import error_message, field_message, label
from channels.base import MINUTES, SECONDS, local_time


def current_lang() -> str:
    """``sv`` or ``en``, as chosen by the app's locale selector."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "sv"


def localtime_filter(value: datetime | str | None, seconds: bool = False) -> str:
    return local_time(value, SECONDS if seconds else MINUTES)


def decimal_filter(value: float, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals in the reader's language: ``1,00`` in Swedish."""
    pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return format_decimal(value, format=pattern, locale=current_lang())


def init_app(app: Flask) -> None:
    """Register the ``localtime`` filter, ``label`` and ``lang`` for all templates; a fresh
    locale for each request."""
    # flask-babel caches the locale on ``g``, which outlives a request when an app
    # context is already pushed (tests, CLI): choose it anew for each request.
    app.before_request(refresh)
    app.jinja_env.filters["localtime"] = localtime_filter
    app.jinja_env.filters["decimal"] = decimal_filter
    app.jinja_env.globals.update(
        label=label, error_message=error_message, field_message=field_message
    )

    @app.context_processor
    def _language() -> dict[str, Any]:
        return {"lang": current_lang()}


#: How long the ``lang`` cookie remembers a reader's ``?lang=`` choice.
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def remember_language(response: Response) -> Response:
    """Keep the language chosen with ``?lang=`` for the next pages (the ``lang`` cookie the
    locale selector reads), so an English console or public page stays English.
    Functional: it remembers the reader's language and stores nothing else."""
    chosen = request.args.get("lang")
    if chosen in ("sv", "en") and request.cookies.get("lang") != chosen:
        response.set_cookie(
            "lang",
            chosen,
            max_age=LANG_COOKIE_MAX_AGE_S,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    return response
