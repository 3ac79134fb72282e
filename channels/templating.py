"""The channels' Jinja2 templates (``channels/templates/``), rendered without Flask.

One plain :class:`jinja2.Environment` per language, autoescaping, with that
language's ``channels`` catalogue installed: templates translate with
``{{ _("msgid", name=value) }}`` (new-style gettext, so values are escaped and
the catalogue's text is not), and two threads rendering in two languages never
share a catalogue.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import jinja2

from channels.base import ui_language
from channels.i18n import translations

logger = logging.getLogger(__name__)


@functools.cache
def _environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("channels", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The i18n extension adds this method at run time, so the stubs do not know it.
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=True
    )
    return env


def environment(lang: str | None) -> jinja2.Environment:
    """The environment for ``lang`` (``en-GB`` -> ``en``, unknown -> ``sv``), built once."""
    return _environment(ui_language(lang))


def render(template_name: str, lang: str | None, **context: Any) -> str:
    """``template_name`` rendered in ``lang`` with ``context``."""
    return environment(lang).get_template(template_name).render(lang=ui_language(lang), **context)
