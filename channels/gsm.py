"""GSM 03.38 awareness: which texts fit the 7-bit alphabet and how many SMS parts they take.

A message made only of GSM-7 characters travels 160 characters per SMS (153
per part once it is split, the rest of each part being the concatenation
header). One character outside the alphabet — an en dash, a curly quote, an
emoji — turns the *whole* message into UCS-2: 70 UTF-16 units, 67 per part.
Swedish letters (å ä ö Å Ä Ö é) are in the basic set, so Swedish text stays
cheap as long as word processors' typography is straightened out first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

GSM7 = "GSM-7"
UCS2 = "UCS-2"

#: GSM 03.38 basic character set (the escape character 0x1B is left out: it is not text).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Extension table: each of these costs two septets (escape + character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_UNITS = 160
GSM7_MULTI_UNITS = 153
UCS2_SINGLE_UNITS = 70
UCS2_MULTI_UNITS = 67

#: Typography that has a faithful GSM-7 spelling. Applied only when it makes
#: the whole text GSM-7 (otherwise the message is UCS-2 anyway and the
#: original characters cost nothing extra).
GSM7_REPLACEMENTS = {
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark / apostrophe
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u00b4": "'",  # acute accent
    "`": "'",  # grave accent (not in GSM-7)
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark (Swedish quotes both ends)
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
    "\u2033": '"',  # double prime
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2039": "'",  # ‹
    "\u203a": "'",  # ›
    "\u2026": "...",  # horizontal ellipsis
    "\u00a0": " ",  # no-break space
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2007": " ",  # figure space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u202f": " ",  # narrow no-break space
    "\t": " ",
    "\u200b": "",  # zero-width space
    "\u00ad": "",  # soft hyphen
    "\ufeff": "",  # byte order mark / zero-width no-break space
    "\u2022": "*",  # bullet
    "\u00b7": "*",  # middle dot
    "\u00e7": "Ç",  # ç: GSM-7 only has the capital, phones show it for both
    "\u2044": "/",  # fraction slash
}
_TRANSLATION = str.maketrans(GSM7_REPLACEMENTS)


@dataclass(frozen=True)
class SmsInfo:
    """How a text travels as SMS: its encoding, its length in that encoding's units, its parts.

    ``length_units`` counts septets for GSM-7 (extension characters count 2)
    and UTF-16 code units for UCS-2 (an emoji outside the BMP counts 2).
    """

    encoding: str  # "GSM-7" | "UCS-2"
    length_units: int
    segments: int

    @property
    def is_gsm7(self) -> bool:
        return self.encoding == GSM7


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 basic set or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_costs(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _count_segments(costs: list[int], single: int, multi: int) -> int:
    """Parts needed; an escape pair or surrogate pair is never split across two parts."""
    total = sum(costs)
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return segments


def sms_info(text: str) -> SmsInfo:
    """Encoding, length in units and number of SMS parts for ``text`` as it is (nothing replaced).

    An empty text counts as one (empty) part.
    """
    if is_gsm7(text):
        costs = _unit_costs(text, GSM7)
        segments = _count_segments(costs, GSM7_SINGLE_UNITS, GSM7_MULTI_UNITS)
        return SmsInfo(GSM7, sum(costs), segments)
    costs = _unit_costs(text, UCS2)
    return SmsInfo(UCS2, sum(costs), _count_segments(costs, UCS2_SINGLE_UNITS, UCS2_MULTI_UNITS))


def to_gsm7_if_possible(text: str) -> str:
    """Straighten typography (dashes, curly quotes, ellipsis, odd spaces) when that makes
    the whole text GSM-7; otherwise return ``text`` unchanged.
    """
    if is_gsm7(text):
        return text
    replaced = text.translate(_TRANSLATION)
    if is_gsm7(replaced):
        return replaced
    return text


def max_units(encoding: str, segments: int) -> int:
    """The most units a message in ``encoding`` may have to fit in ``segments`` parts."""
    if encoding == GSM7:
        return GSM7_SINGLE_UNITS if segments <= 1 else GSM7_MULTI_UNITS * segments
    return UCS2_SINGLE_UNITS if segments <= 1 else UCS2_MULTI_UNITS * segments
