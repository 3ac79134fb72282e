"""Text people type, checked once at the edge so every output can carry it.

A headline goes into HTML pages, RSS/Atom and CAP (XML 1.0), SMS, email and
the banner. XML 1.0 cannot carry most C0 control characters, U+FFFE/U+FFFF or
unpaired surrogates, and one such character in one notice used to make every
feed answer 500. So text is normalised to NFC and refused, naming the field,
when it holds a character no output can show or one that can disguise what
it says (bidirectional overrides). No Flask here: the API's schemas, the
console's forms and the importers all call :func:`clean_text`.
"""

from __future__ import annotations

import re
import unicodedata

#: Characters XML 1.0 cannot carry (tab, newline and carriage return it can), the
#: non-characters U+FFFE/U+FFFF, and lone surrogates (which UTF-8 cannot even encode).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
#: Bidirectional embeddings, overrides and isolates: they reorder how text is shown, so a
#: headline could read differently from what was approved (the "Trojan Source" trick).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: Anything a renderer must drop to stay valid (used where text was stored before checks).
_UNSHOWABLE = re.compile(f"{_NOT_XML.pattern[:-1]}\u202a-\u202e\u2066-\u2069]")


def describe(char: str) -> str:
    """``U+000B`` and its name where it has one, for an error message."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name.lower()})" if name else "")


def clean_text(value: str, *, max_length: int | None = None, multiline: bool = True) -> str:
    """``value`` normalised to NFC, or ValueError saying what is wrong with it.

    ``multiline=False`` also refuses line breaks and tabs (names, labels, reasons on
    one line)."""
    text = unicodedata.normalize("NFC", value)
    if bad := _NOT_XML.search(text):
        raise ValueError(f"contains a control character that cannot be shown: {describe(bad[0])}")
    if bad := _BIDI_CONTROLS.search(text):
        raise ValueError(f"contains a bidirectional control character: {describe(bad[0])}")
    if not multiline and (bad := re.search("[\t\n\r]", text)):
        raise ValueError(f"must be one line: it contains {describe(bad[0])}")
    if max_length is not None and len(text) > max_length:
        raise ValueError(f"is {len(text)} characters long; at most {max_length} fit")
    return text


def showable(value: str) -> str:
    """``value`` without the characters :func:`clean_text` refuses: for rendering text that
    was stored before the checks existed, so one old record cannot break a feed."""
    return _UNSHOWABLE.sub("", value)
