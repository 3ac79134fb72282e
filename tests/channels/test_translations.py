"""The channels' catalogues: complete, current against the sources, and compiled from the .po."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import channels
from channels.base import LANGUAGES
from channels.i18n import DOMAIN, TRANSLATIONS_DIR, translations

PACKAGE_DIR = Path(channels.__file__).parent
# English is the msgid language: it has no catalogue.
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


def _key(msgid: str | tuple[str, ...]) -> str | tuple[str, ...]:
    return tuple(msgid) if isinstance(msgid, list | tuple) else msgid


@pytest.fixture(scope="module")
def extracted() -> set[str | tuple[str, ...]]:
    """The msgids in channels/ now, found the way ``pybabel extract`` finds them."""
    with open(TRANSLATIONS_DIR / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE_DIR), method_map, options_map
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    ids = {_key(m.id) for m in catalog if m.id}
    assert len(ids) > 40, "extraction found almost nothing: is babel.cfg right?"
    return ids


def _read_po(path: Path) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f)


def _po_path(lang: str) -> Path:
    return TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def test_the_template_is_current(extracted):
    template = _read_po(TRANSLATIONS_DIR / f"{DOMAIN}.pot")
    assert {_key(m.id) for m in template if m.id} == extracted, (
        "channels.pot is stale: run pybabel extract (see channels/i18n.py)"
    )


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogue_has_every_msgid_and_no_other(lang, extracted):
    catalogue = _read_po(_po_path(lang))
    in_po = {_key(m.id) for m in catalogue if m.id}
    assert extracted - in_po == set(), f"{lang}: msgids without a translation entry"
    assert in_po - extracted == set(), f"{lang}: entries no longer used (pybabel update)"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_entry_is_translated_and_keeps_its_placeholders(lang):
    catalogue = _read_po(_po_path(lang))
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{lang}: {message.id!r} is not translated"
        assert not message.fuzzy, f"{lang}: {message.id!r} is fuzzy"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalogue.check()]
    assert problems == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_compiled_catalogue_matches_its_source(lang):
    source = _read_po(_po_path(lang))
    with open(_po_path(lang).with_suffix(".mo"), "rb") as f:
        compiled = read_mo(f)
    as_dict = lambda catalogue: {_key(m.id): m.string for m in catalogue if m.id}  # noqa: E731
    assert as_dict(compiled) == as_dict(source), "the .mo is stale: run pybabel compile"


def test_swedish_is_loaded_and_english_is_the_msgid():
    assert translations("sv").gettext("All clear") == "Avblåst"
    assert translations("sv-SE").gettext("All clear") == "Avblåst"
    assert translations("en").gettext("All clear") == "All clear"
    # An unknown language reads the primary one, as every channel does.
    assert translations("de").gettext("All clear") == "Avblåst"
