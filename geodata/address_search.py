"""Ranking address candidates and finding misspelled streets.

How lookup is meant to work (the SQL side lives in the application):

1. ``q = parse_address_query(text)`` (:mod:`geodata.address_text`).
2. Candidate rows come from SQL, in this order until some are found:
   exact ``street_key = q.street_key``; prefix ``street_key LIKE q.street_key || '%'``;
   and for misspellings the street keys returned by
   ``StreetMatcher.best(q.street_key)`` (``street_key IN (...)``). Filtering on
   ``number`` in SQL is optional; the ranking below prefers the typed number.
3. ``rank_candidates(q, rows)`` orders them; show the first few, or take the
   first when ``exact_address`` is true for it and for no other.

A candidate is anything with attributes (or mapping keys) ``street``,
``number``, ``letter``, ``postcode`` and ``city``, optionally ``street_key``:
an :class:`~geodata.addresses.AddressRecord`, an ORM row or a dict.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import fuzz, process

from geodata.address_text import AddressQuery, city_key, parse_address_query, street_key

logger = logging.getLogger(__name__)

FUZZY_SCORE_CUTOFF = 75.0
"""Minimum rapidfuzz ratio (0–100) for a street to count as a fuzzy match."""

MatchKind = Literal["exact", "prefix", "fuzzy"]
_STREET_TIER: dict[MatchKind, int] = {"exact": 3, "prefix": 2, "fuzzy": 1}


@dataclass(frozen=True)
class RankedCandidate:
    """A candidate with how well it matched; higher ``score`` is better."""

    candidate: Any
    match: MatchKind
    score: float
    exact_address: bool


def _field(candidate: Any, name: str, default: Any = None) -> Any:
    """Read a field from a mapping or an object."""
    if isinstance(candidate, Mapping):
        return candidate.get(name, default)
    return getattr(candidate, name, default)


def rank_candidates(
    query: AddressQuery | str,
    candidates: Iterable[Any],
    *,
    fuzzy_score_cutoff: float = FUZZY_SCORE_CUTOFF,
) -> list[RankedCandidate]:
    """Order candidate addresses by how well they match the query, best first.

    Order of importance: the place (a typed postcode or town that contradicts
    the candidate's puts it last); the street (exact key > key prefix > fuzzy,
    candidates below ``fuzzy_score_cutoff`` are dropped); the house number
    (exact > digits typed so far > none typed > other); the letter (as typed,
    or none when none was typed); then fuzzy similarity; then alphabetical.
    """
    parsed = parse_address_query(query) if isinstance(query, str) else query
    ranked: list[tuple[tuple[Any, ...], tuple[Any, ...], RankedCandidate]] = []
    for candidate in candidates:
        street = str(_field(candidate, "street", "") or "")
        key = _field(candidate, "street_key") or street_key(street)
        match, similarity = _street_match(parsed.street_key, key, fuzzy_score_cutoff)
        if match is None:
            continue
        number = _field(candidate, "number")
        letter = str(_field(candidate, "letter", "") or "").upper()
        place_ok = _place_ok(parsed, candidate)
        number_tier = _number_tier(parsed.number, number)
        letter_tier = 2 if parsed.letter == letter else (1 if not parsed.letter else 0)
        tiers = (int(place_ok), _STREET_TIER[match], number_tier, letter_tier, similarity)
        score = 1000 * tiers[0] + 100 * tiers[1] + 10 * tiers[2] + 3 * tiers[3] + similarity / 100
        exact_address = (
            place_ok and match == "exact" and number_tier == 4 and parsed.letter == letter
        )
        order = (*tiers, -len(key))
        tiebreak = (street.casefold(), number if number is not None else -1, letter)
        ranked.append((order, tiebreak, RankedCandidate(candidate, match, score, exact_address)))
    # Two stable sorts: alphabetical first, then best match first.
    ranked.sort(key=lambda item: item[1])
    ranked.sort(key=lambda item: item[0], reverse=True)
    return [item[2] for item in ranked]


def _street_match(
    query_key: str, candidate_key: str, cutoff: float
) -> tuple[MatchKind | None, float]:
    """Classify a street match and give its similarity (0–100)."""
    if not query_key:
        return "prefix", 0.0
    if candidate_key == query_key:
        return "exact", 100.0
    if candidate_key.startswith(query_key):
        return "prefix", 100.0 * len(query_key) / len(candidate_key)
    similarity = fuzz.ratio(query_key, candidate_key)
    if similarity >= cutoff:
        return "fuzzy", similarity
    return None, similarity


def _number_tier(query_number: int | None, number: Any) -> int:
    """4 exact, 3 typed digits are a prefix, 2 no number typed, 1 candidate has none, 0 other."""
    if query_number is None:
        return 2
    if number is None:
        return 1
    if int(number) == query_number:
        return 4
    return 3 if str(int(number)).startswith(str(query_number)) else 0


def _place_ok(query: AddressQuery, candidate: Any) -> bool:
    """False when a typed postcode or town contradicts the candidate's."""
    postcode = str(_field(candidate, "postcode", "") or "").replace(" ", "")
    if query.postcode and postcode and postcode != query.postcode:
        return False
    city = city_key(str(_field(candidate, "city", "") or ""))
    return not (query.city_key and city and not city.startswith(query.city_key))


class StreetMatcher:
    """The distinct street keys of the register, for fuzzy and prefix street lookup.

    Build it once (tens of thousands of keys take a few milliseconds) and keep
    it until the register changes::

        matcher = StreetMatcher(session.scalars(select(Address.street_key).distinct()))
        matcher.best("Storgtan")  # [("storgatan", 94.1), ...]
    """

    def __init__(self, street_keys: Iterable[str]) -> None:
        self._keys: list[str] = sorted({k for k in street_keys if k})
        logger.debug("street matcher holds %d keys", len(self._keys))

    def __len__(self) -> int:
        """The number of distinct street keys."""
        return len(self._keys)

    def best(
        self, street: str, *, limit: int = 5, score_cutoff: float = FUZZY_SCORE_CUTOFF
    ) -> list[tuple[str, float]]:
        """The street keys most like ``street`` (text or key), best first, scored 0–100."""
        key = street_key(street)
        if not key:
            return []
        matches = process.extract(
            key,
            self._keys,
            scorer=fuzz.ratio,
            processor=None,
            limit=limit,
            score_cutoff=score_cutoff,
        )
        return [(choice, float(score)) for choice, score, _index in matches]

    def with_prefix(self, street: str, *, limit: int = 20) -> list[str]:
        """The street keys starting with the key of ``street``, alphabetically."""
        key = street_key(street)
        start = bisect.bisect_left(self._keys, key)
        found: list[str] = []
        for candidate in self._keys[start:]:
            if not candidate.startswith(key) or len(found) >= limit:
                break
            found.append(candidate)
        return found
