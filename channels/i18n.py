"""The channels' own wording: gettext catalogues of the Babel domain ``channels``, without Flask.

Code and templates hold English msgids; ``channels/translations/<lang>/LC_MESSAGES/channels.po``
is the source of each translation and the ``.mo`` next to it is compiled from it
and committed. English needs no catalogue: its text is the msgid. Swedish, the
product's primary language, is ``sv``. The application's own catalogue is a
different domain (``messages`` under ``alerts/translations``).

After changing a msgid, run from the repository root::

    pybabel extract -F channels/translations/babel.cfg --no-wrap --sort-by-file \\
        --project=varsla-channels -o channels/translations/channels.pot channels
    pybabel update -D channels -i channels/translations/channels.pot \\
        -d channels/translations --no-wrap
    # translate the new entries in channels/translations/sv/LC_MESSAGES/channels.po, then
    pybabel compile -D channels -d channels/translations --statistics

A new language: ``pybabel init -D channels -i channels/translations/channels.pot
-d channels/translations -l <lang>`` (and add it to ``channels.base.LANGUAGES``).
``tests/channels/test_translations.py`` fails when a catalogue lacks a msgid,
keeps one no longer used, or its ``.mo`` is older than its ``.po``.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from babel.support import NullTranslations, Translations

from channels.base import ui_language

logger = logging.getLogger(__name__)

DOMAIN = "channels"
TRANSLATIONS_DIR = Path(__file__).parent / "translations"


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction where it is translated later (a table of labels)."""
    return msgid


@functools.cache
def translations(lang: str | None) -> NullTranslations:
    """The catalogue for ``lang`` (``en-GB`` -> ``en``, unknown -> ``sv``), loaded once.

    English, and any language without a compiled catalogue, answers with the
    msgids themselves.
    """
    language = ui_language(lang)
    catalogue = Translations.load(str(TRANSLATIONS_DIR), [language], DOMAIN)
    if language != "en" and not isinstance(catalogue, Translations):
        # A missing .mo for a language we claim would silently show English.
        logger.warning("no %s catalogue for %r in %s", DOMAIN, language, TRANSLATIONS_DIR)
    return catalogue


def translate(lang: str | None, msgid: str) -> str:
    """``msgid`` in ``lang`` (for msgids marked with :func:`N_`)."""
    return translations(lang).gettext(msgid)
