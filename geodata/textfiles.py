"""Reading the files people import, and echoing what is in them, safely.

Registers and boundaries come from spreadsheets, GIS tools and other systems;
any of them may be odd or hostile. The readers here turn every oddity into a
one-line message (:class:`FileProblem`) instead of a traceback:

- text in UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's "Unicode
  text", tab-separated) or Windows-1252;
- CSV rows whose field is longer than :data:`CSV_FIELD_MAX` characters are a
  problem of that row, not of the whole file;
- JSON nested too deeply for the parser is a problem of the file.

Text from a file shown on a terminal (a header, a value) goes through
:func:`shown`, so escape sequences in a file cannot move the cursor, change
colours or retitle the window of whoever runs the import.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

CSV_FIELD_MAX = 131_072
"""The longest CSV field read (Python's own default limit, said out loud)."""

#: C0 and C1 controls, DEL, bidirectional controls, line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]")
SHOWN_MAX = 200
"""At most this many characters of a value from a file are echoed."""


class FileProblem(ValueError):
    """A file cannot be read as a whole; the message is one line saying why."""


def shown(value: Any, *, max_length: int = SHOWN_MAX) -> str:
    """``value`` as text safe to print on a terminal, on one line.

    Control characters (ESC and the rest of C0/C1, bidirectional controls, line
    breaks) become ``\\x1b``-style escapes; long text is cut with an ellipsis.
    """
    text = str(value)
    if len(text) > max_length:
        text = text[:max_length] + "…"
    return _CONTROLS.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 256 else f"\\u{ord(m[0]):04x}", text
    )


def decode_text(data: bytes) -> str:
    """The text of a file: UTF-16 by its BOM, UTF-8 (BOM or not), else Windows-1252.

    Raises :class:`FileProblem` for UTF-16 that does not decode, and for NUL
    characters (UTF-16 without a BOM, or a binary file).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise FileProblem(
                f"the file starts like UTF-16 text but byte {exc.start} cannot be decoded"
            ) from None
        logger.info("file is UTF-16 text (Excel's 'Unicode text')")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            logger.info("file is not UTF-8; reading it as Windows-1252")
            text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise FileProblem(
            "the file holds NUL characters: it is not text (or UTF-16 without a byte order "
            "mark; save it as UTF-8 CSV)"
        )
    return text


def csv_rows(reader: Any, *, first_line: int = 0) -> Iterator[tuple[int, list[str] | None, str]]:
    """The rows of a ``csv.reader`` as ``(line, values, "")``, or ``(line, None, why)`` for a
    row the CSV parser refused (a field over :data:`CSV_FIELD_MAX` characters, say).

    ``line`` counts from 1 in the file, ``first_line`` being the lines before the
    reader's first.
    """
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                reason = f"has a field longer than {CSV_FIELD_MAX} characters"
            yield first_line + reader.line_num, None, f"cannot be read: {reason}"
            continue
        yield first_line + reader.line_num, values, ""


def load_json(text: str) -> Any:
    """Parse JSON text; :class:`FileProblem` saying where it is not JSON or that it nests
    too deeply to read (Python's parser recurses)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(
            f"the file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise FileProblem(
            "the file nests arrays or objects too deeply to be GeoJSON (thousands of levels)"
        ) from None
    except ValueError as exc:  # a number of more than 4,300 digits, say
        reason = str(exc).split(";")[0]  # not Python's advice on how to raise the limit
        raise FileProblem(f"the file cannot be read as JSON: {shown(reason)}") from None
