"""The catalogues are complete and current: extracted from the sources, translated, compiled.

Msgids are Swedish; ``alerts/translations/en`` holds English. When one of these fails,
run the workflow in ``alerts/translations/README.md`` (extract, update, translate, compile).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "alerts" / "translations"
POT = TRANSLATIONS / "messages.pot"
TARGET_LANGUAGES = ("en",)  # sv is the msgids' language
# The -k options of the documented pybabel extract command, on top of Babel's defaults.
EXTRA_KEYWORDS = ["lazy_gettext", "lazy_pgettext:1c,2", "lazy_ngettext:1,2"]

Key = tuple[str | None, str]  # (context, msgid)
PLACEHOLDER = re.compile(r"%\((\w+)\)")


def _key(message) -> Key:
    msgid = message.id[0] if isinstance(message.id, list | tuple) else message.id
    return (message.context, msgid)


def _read_po(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


@pytest.fixture(scope="module")
def extracted() -> dict[Key, object]:
    """Every message marked in the sources, by the project's babel.cfg."""
    from babel.messages.extract import DEFAULT_KEYWORDS

    with (TRANSLATIONS / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(TRANSLATIONS / "babel.cfg"))
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(EXTRA_KEYWORDS)}
    found: dict[Key, object] = {}
    for filename, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        plural = message[1] if isinstance(message, tuple) else None
        assert msgid, f"empty msgid in {filename}"
        found[(context, msgid)] = plural
    return found


def test_the_template_lists_exactly_the_messages_in_the_sources(extracted):
    template = {_key(m): (m.id[1] if m.pluralizable else None) for m in _read_po(POT) if m.id}
    missing = sorted(set(extracted) - set(template), key=str)
    obsolete = sorted(set(template) - set(extracted), key=str)
    assert not missing, f"messages.pot lacks (run pybabel extract): {missing}"
    assert not obsolete, f"messages.pot has messages no source uses: {obsolete}"
    changed_plurals = [k for k, plural in extracted.items() if template[k] != plural]
    assert not changed_plurals, f"plural forms changed since extraction: {changed_plurals}"
    assert len(extracted) > 250  # the console, the public pages and the CLI are all in


@pytest.mark.parametrize("language", TARGET_LANGUAGES)
def test_each_catalogue_has_every_message_and_nothing_obsolete(extracted, language):
    catalog = _read_po(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", language)
    keys = {_key(m) for m in catalog if m.id}
    missing = sorted(set(extracted) - keys, key=str)
    assert not missing, f"{language}: not in the catalogue (run pybabel update): {missing}"
    assert not catalog.obsolete, f"{language}: obsolete entries: {list(catalog.obsolete)}"
    unused = sorted(keys - set(extracted), key=str)
    assert not unused, f"{language}: messages no source uses: {unused}"


@pytest.mark.parametrize("language", TARGET_LANGUAGES)
def test_each_message_is_translated_with_its_placeholders(language):
    catalog = _read_po(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", language)
    assert catalog.num_plurals == 2
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            fuzzy.append(message.id)
        strings = list(message.string) if message.pluralizable else [message.string]
        wanted = catalog.num_plurals if message.pluralizable else 1
        if len(strings) != wanted or not all(strings):
            untranslated.append(message.id)
    assert not untranslated, f"{language}: untranslated: {untranslated}"
    assert not fuzzy, f"{language}: fuzzy (check and clear the flag): {fuzzy}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    for message in catalog:
        if not message.id:
            continue
        ids = list(message.id) if message.pluralizable else [message.id]
        strings = list(message.string) if message.pluralizable else [message.string]
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for string in strings:
            if string and set(PLACEHOLDER.findall(string)) != wanted:
                problems.append((message.id, [f"{string!r} needs {sorted(wanted)}"]))
    assert not problems, f"{language}: placeholders differ from the msgid: {problems}"


@pytest.mark.parametrize("language", TARGET_LANGUAGES)
def test_each_compiled_catalogue_matches_its_po(language):
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    compiled = io.BytesIO()
    write_mo(compiled, _read_po(folder / "messages.po", language))
    compiled.seek(0)
    with (folder / "messages.mo").open("rb") as handle:
        committed = read_mo(handle)
    fresh = read_mo(compiled)

    def table(catalog: Catalog) -> dict:
        return {(m.context, str(m.id)): m.string for m in catalog if m.id}

    assert table(committed) == table(fresh), f"{language}: run pybabel compile"
