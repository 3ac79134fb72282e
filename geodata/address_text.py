"""Swedish address text: normalised street keys, query parsing and display formatting.

The street key is what the database stores next to each address and what a
query is turned into before lookup, so that spelling variants meet:

* case and whitespace: ``"  STORGATAN "`` → ``storgatan``;
* abbreviations: ``Storg.`` = ``Storgatan``, ``Prästgårdsv.`` = ``Prästgårdsvägen``,
  ``Kyrkogr.`` = ``Kyrkogränd``, ``Stortg.`` = ``Stortorget``, ``Karl Johans v.`` =
  ``Karl Johans väg``; a compound, and the one-letter words ``g`` and ``v``, are
  only expanded when the abbreviation ends with a full stop (``Storg`` without
  it is left to prefix search);
* definite and indefinite forms of separate words: ``Karl Johans väg`` = ``Karl
  Johans vägen``, likewise ``gata``/``gatan`` and ``torg``/``torget``;
* direction and saint prefixes: ``V.`` Västra, ``Ö.`` Östra, ``N.`` Norra,
  ``S.`` Södra, ``S:t`` Sankt;
* spaces and hyphens are dropped (``Prästgårds vägen`` = ``Prästgårdsvägen``) and
  å/ä→a, ö→o, é→e (``Prastgardsvagen`` finds ``Prästgårdsvägen``).

Keys are prefix-stable: the key of a name typed half-way is a prefix of the
full name's key in the ordinary case, so ``street_key(typed) + '%'`` works as
an SQL prefix pattern for autocomplete.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_FIRST_WORD = {
    "v": "västra",
    "ö": "östra",
    "o": "östra",
    "n": "norra",
    "s": "södra",
    "st": "sankt",
    "s:t": "sankt",
    "s:ta": "sankta",
    "l:a": "lilla",
    "st:a": "stora",
    "g:la": "gamla",
}
# Separate street-type words, expanded wherever they stand ("Karl Johans väg").
_SEPARATE_WORD = {
    "gata": "gatan",
    "väg": "vägen",
    "vg": "vägen",
    "gr": "gränd",
    "tg": "torget",
    "torg": "torget",
}
# Short ones only with a full stop, so that a half-typed "Karl Johans g" stays a prefix.
_SEPARATE_WORD_WITH_STOP = {"g": "gatan", "v": "vägen", "pl": "platsen", "all": "allén"}
# Compound abbreviations, only with a full stop: "Storg." → "Storgatan".
_COMPOUND_SUFFIX = (
    ("gr", "gränd"),
    ("tg", "torget"),
    ("pl", "platsen"),
    ("vg", "vägen"),
    ("g", "gatan"),
    ("v", "vägen"),
)

_TRANSLITERATION = str.maketrans({"æ": "ae", "ø": "o", "ß": "ss"})
_TOKEN_RE = re.compile(r"[^\s\-–—,/]+")
_POSTCODE_RE = re.compile(r"(?<![0-9])(?:se-?\s?)?([0-9]{3})\s?([0-9]{2})(?![0-9])", re.IGNORECASE)
_NUMBER_RE = re.compile(r"([0-9]{1,5})\s*([a-zåäö])?", re.IGNORECASE)
_LETTER_RE = re.compile(r"[a-zåäö]", re.IGNORECASE)
_APARTMENT_WORDS = {
    "lgh",
    "lgh.",
    "lägenhet",
    "uppg",
    "uppg.",
    "uppgång",
    "vån",
    "vån.",
    "tr",
    "tr.",
}


def fold(text: str) -> str:
    """Lowercase ASCII letters and digits only: å/ä→a, ö→o, é→e; everything else dropped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_TRANSLITERATION))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


def street_key(name: str) -> str:
    """The normalised lookup key of a street name (see the module docstring).

    >>> street_key("Storg.") == street_key("STORGATAN") == "storgatan"
    True
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    tokens = _TOKEN_RE.findall(text)
    words: list[str] = []
    for position, token in enumerate(tokens):
        had_stop = token.endswith(".")
        bare = token.strip(".'\"()[]")
        if not bare:
            continue
        if position == 0 and len(tokens) > 1 and bare in _FIRST_WORD:
            words.append(_FIRST_WORD[bare])
        elif position > 0 and bare in _SEPARATE_WORD:
            words.append(_SEPARATE_WORD[bare])
        elif position > 0 and had_stop and bare in _SEPARATE_WORD_WITH_STOP:
            words.append(_SEPARATE_WORD_WITH_STOP[bare])
        elif had_stop:
            words.append(_expand_compound(bare))
        else:
            words.append(bare)
    return fold("".join(words))


def _expand_compound(word: str) -> str:
    """Expand an abbreviated compound that ended with a full stop (``storg`` → ``storgatan``)."""
    for suffix, full in _COMPOUND_SUFFIX:
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + full
    return word


def city_key(city: str) -> str:
    """The normalised key of a postal town (``Mora``, ``MORA`` → ``mora``)."""
    return fold(city)


def normalise_postcode(text: str) -> str:
    """Return a Swedish postcode as five digits (``"591 30"`` → ``"59130"``).

    Raises :class:`ValueError` when the text is not five digits (spaces and an
    ``SE-`` prefix allowed).
    """
    match = _POSTCODE_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"postcode {text!r} is not five digits like 591 30")
    return match.group(1) + match.group(2)


def format_postcode(postcode: str) -> str:
    """Display a five-digit postcode the Swedish way: ``59130`` → ``591 30``."""
    return f"{postcode[:3]} {postcode[3:]}" if len(postcode) == 5 else postcode


def parse_house_number(text: str) -> tuple[int | None, str]:
    """Split a house number into number and letter: ``"12 b"`` → ``(12, "B")``.

    An empty text gives ``(None, "")``.

    Raises :class:`ValueError` for anything else (``"12-14"``, ``"tolv"``).
    """
    stripped = text.strip()
    if not stripped:
        return None, ""
    match = _NUMBER_RE.fullmatch(stripped)
    if not match:
        raise ValueError(
            f"house number {text!r} is not a number with an optional letter (12, 12B, 12 B)"
        )
    return int(match.group(1)), (match.group(2) or "").upper()


def format_address(
    street: str,
    number: int | None = None,
    letter: str = "",
    postcode: str = "",
    city: str = "",
) -> str:
    """Display an address the Swedish way: ``Storgatan 12 B, 591 30 Motala``."""
    first = street.strip()
    if number is not None:
        first += f" {number}"
        if letter:
            first += f" {letter.upper()}"
    place = " ".join(p for p in (format_postcode(postcode), city.strip()) if p)
    return f"{first}, {place}" if place else first


@dataclass(frozen=True)
class AddressQuery:
    """What a person typed, parsed: a street key and optionally number, letter and place."""

    street_key: str
    number: int | None = None
    letter: str = ""
    postcode: str | None = None
    city_key: str | None = None
    text: str = ""


def parse_address_query(query: str) -> AddressQuery:
    """Parse free text such as ``"Storg. 12b, 591 30 Motala"`` into an :class:`AddressQuery`.

    The street comes first; the first number after it is the house number,
    optionally followed by a letter (``12B``, ``12 B``, ``12 b``); a postcode
    (``591 30`` or ``59130``) and a town may follow, with or without commas.
    Apartment parts (``lgh 1101``) are ignored.
    """
    text = unicodedata.normalize("NFKC", query).strip()
    head, _, tail = text.partition(",")
    tokens = head.split()
    street_tokens = tokens
    rest: list[str] = []
    number: int | None = None
    letter = ""
    for index, token in enumerate(tokens):
        if index == 0:
            continue
        match = _NUMBER_RE.fullmatch(token)
        if match and not _POSTCODE_RE.fullmatch(" ".join(tokens[index : index + 2])):
            street_tokens, rest = tokens[:index], tokens[index + 1 :]
            number = int(match.group(1))
            letter = (match.group(2) or "").upper()
            if not letter and rest and _LETTER_RE.fullmatch(rest[0]):
                letter, rest = rest[0].upper(), rest[1:]
            break
    place = " ".join([*rest, tail.replace(",", " ")])
    place = _drop_apartment(place)
    postcode = None
    postcode_match = _POSTCODE_RE.search(place)
    if postcode_match:
        postcode = postcode_match.group(1) + postcode_match.group(2)
        place = place[: postcode_match.start()] + " " + place[postcode_match.end() :]
    city = city_key(place)
    return AddressQuery(
        street_key=street_key(" ".join(street_tokens)),
        number=number,
        letter=letter,
        postcode=postcode,
        city_key=city or None,
        text=query,
    )


def _drop_apartment(text: str) -> str:
    """Remove apartment or entrance designations (``lgh 1101``, ``uppg. 2``) from place text."""
    tokens = text.split()
    kept: list[str] = []
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
            continue
        if token.casefold() in _APARTMENT_WORDS:
            skip_next = True
            continue
        kept.append(token)
    return " ".join(kept)
