"""The message catalogues, for code that runs without a request: domain errors and the CLI.

Msgids are Swedish (the default language); ``translations/en/LC_MESSAGES/messages.po``
holds English. Pages and the console translate through Flask-Babel (the request's
locale); this module loads the same catalogues with Babel directly, so that

- a domain error can say in English what went wrong to the JSON API and logs
  (:func:`english`), while the console shows it in the reader's language;
- the ``varsla`` CLI speaks English unless ``VARSLA_CLI_LANG=sv``. Its output is
  read by whoever runs the host (often a supplier's technician), lands in logs,
  tickets and scripts, and should read the same whatever the host's locale; its
  messages are still msgids in the catalogue, so Swedish is one variable away.

``N_`` marks a msgid for extraction without translating it (the caller translates
later, e.g. a domain error's message with its parameters).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LANGUAGES = ("sv", "en")
SOURCE_LANGUAGE = "sv"  # the msgids


def N_(message: str) -> str:
    """Mark ``message`` for extraction; translated where it is shown."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue for ``language`` (``sv`` needs none: msgids are Swedish)."""
    if language == SOURCE_LANGUAGE:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language])


def translate(language: str, message: str, **params: Any) -> str:
    """``message`` (a msgid) in ``language``, with ``%(name)s`` parameters filled in."""
    text = translations(language).gettext(message)
    return text % params if params else text


def english(message: str, **params: Any) -> str:
    """``message`` in English (the JSON API's and the logs' language)."""
    return translate("en", message, **params)


def cli_language(environ: Mapping[str, str] | None = None) -> str:
    """``sv`` when ``VARSLA_CLI_LANG`` says so, else ``en`` (see the module docstring)."""
    env = os.environ if environ is None else environ
    chosen = env.get("VARSLA_CLI_LANG", "").strip().lower()[:2]
    return chosen if chosen in LANGUAGES else "en"


def cli_gettext(message: str, **params: Any) -> str:
    """``message`` in the CLI's language (see the module docstring)."""
    return translate(cli_language(), message, **params)


def cli_ngettext(singular: str, plural: str, num: int, **params: Any) -> str:
    """The singular or plural of a message about ``num`` things, in the CLI's language."""
    text = translations(cli_language()).ngettext(singular, plural, num)
    return text % {"num": num, **params}
