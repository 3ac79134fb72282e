"""The address register in the database: import, geocoding and autocomplete.

Reading and the Swedish text rules are :mod:`geodata.addresses` and
:mod:`geodata.address_text`; ranking and fuzzy street matching are
:mod:`geodata.address_search`. This module does the SQL:

- :func:`import_addresses` bulk-writes a register in chunks, upserting by
  source id (a register's own ``ID``; rows without one get a key made from
  the address itself, so importing the same file twice changes nothing).
- :func:`geocode` / :func:`resolve_address`: exact street key first, then a
  misspelled street through :class:`~geodata.address_search.StreetMatcher`
  (its distinct street keys are cached per process and rebuilt when the
  register grows or was imported here).
- :func:`autocomplete`: a prefix range on ``street_key`` served by the
  composite index ``(street_key, number, letter)``, ranked in Python.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from alerts.config import Settings
from alerts.orm import table_of
from alerts.places.models import Address
from alerts.text import clean_text
from geodata.addresses import (
    AddressImportError,
    AddressQuery,
    AddressRecord,
    AddressRowError,
    RankedCandidate,
    StreetMatcher,
    city_key,
    format_address,
    parse_address_query,
    rank_candidates,
    read_addresses,
    street_key,
)
from geodata.nominatim import GeocoderError, NominatimGeocoder

logger = logging.getLogger(__name__)

__all__ = [
    "AddressImportError",
    "AddressImportReport",
    "AddressLookup",
    "Resolution",
    "autocomplete",
    "geocode",
    "import_addresses",
    "resolve_address",
]

_ADDRESS_FIELDS = (
    "street",
    "number",
    "letter",
    "postcode",
    "city",
    "street_key",
    "city_key",
    "lon",
    "lat",
    "source_id",
    "synthetic",
)
CHUNK_ROWS = 2000
"""Rows per INSERT/UPDATE statement batch when importing."""
MATCHER_MAX_AGE_S = 300.0
"""A cached street matcher is rebuilt at the latest after this long (to see renamed streets)."""
GEOCODE_FUZZY_CUTOFF = 85.0
"""Geocoding accepts a misspelled street only this similar (0–100): one slip in a long name.

Stricter than autocomplete, where a person picks from the list; here the
address is taken without anyone looking (``Nogatan`` must not become
``Noretsgatan``)."""
_CANDIDATE_LIMIT = 200
_POSTCODE_ONLY_RE = re.compile(r"\s*(?:se-?\s?)?([0-9]{3})\s?([0-9]{2})\s*", re.IGNORECASE)

#: The columns lookups read (plain rows, no ORM objects: autocomplete must be fast).
_LOOKUP_COLUMNS = (
    Address.id,
    Address.street,
    Address.number,
    Address.letter,
    Address.postcode,
    Address.city,
    Address.street_key,
    Address.city_key,
    Address.lon,
    Address.lat,
)


# --------------------------------------------------------------------------- import


@dataclass
class AddressImportReport:
    """What an address import did."""

    created: int = 0
    updated: int = 0
    errors: list[AddressRowError] = field(default_factory=list)
    source_crs: str = ""
    source_format: str = ""

    @property
    def imported(self) -> int:
        """Rows written (created or updated)."""
        return self.created + self.updated


def import_addresses(
    session: Session,
    source: str | os.PathLike[str] | bytes,
    *,
    synthetic: bool = False,
    source_crs: str | None = None,
) -> AddressImportReport:
    """Import an OpenAddresses-style CSV or GeoJSON register (path or bytes).

    Bad rows are reported in ``errors`` (line number or feature index, and
    why) and skipped; the others are written in chunks. A row whose source id
    (``ID`` column) is already in the register updates it. ``synthetic``
    marks invented addresses (demo data). Raises
    :class:`~geodata.addresses.AddressImportError` when the file as a whole
    cannot be read; nothing is written then. Flushes, never commits.
    """
    result = read_addresses(source, source_crs=source_crs)
    report = AddressImportReport(
        errors=list(result.errors),
        source_crs=result.source_crs,
        source_format=result.source_format,
    )
    kind: Literal["line", "feature"] = "line" if result.source_format == "csv" else "feature"
    rows: dict[str, dict[str, Any]] = {}
    for record, location in zip(result.records, result.record_locations, strict=True):
        if problem := _text_problem(record):
            report.errors.append(AddressRowError(location, problem, kind))
            continue
        values = _address_values(record, synthetic)
        if values["source_id"] in rows:
            first = rows[values["source_id"]]["_location"]
            what = f"ID {record.source_id!r}" if record.source_id else "the same address"
            report.errors.append(
                AddressRowError(location, f"{what} already appears at {kind} {first}", kind)
            )
            continue
        values["_location"] = location
        rows[values["source_id"]] = values
    report.errors.sort(key=lambda e: e.location)
    pending = list(rows.values())
    for start in range(0, len(pending), CHUNK_ROWS):
        chunk = pending[start : start + CHUNK_ROWS]
        for values in chunk:
            values.pop("_location")
        existing = dict(
            session.execute(
                select(Address.source_id, Address.id).where(
                    Address.source_id.in_([v["source_id"] for v in chunk])
                )
            ).all()
        )
        new = [v for v in chunk if v["source_id"] not in existing]
        changed = [
            {"id": existing[v["source_id"]], **v} for v in chunk if v["source_id"] in existing
        ]
        # Core executemany: the ORM would split rows by which values are None.
        if new:
            session.execute(insert(table_of(Address)), new)
        if changed:
            session.execute(_UPDATE_BY_ID, [{"row_id": v.pop("id"), **v} for v in changed])
        report.created += len(new)
        report.updated += len(changed)
    session.flush()
    forget_street_matchers()
    logger.info(
        "imported %d addresses (%d new, %d updated, %d bad rows)",
        report.imported,
        report.created,
        report.updated,
        len(report.errors),
    )
    return report


_UPDATE_BY_ID = (
    update(table_of(Address))
    .where(Address.__table__.c.id == bindparam("row_id"))
    .values({c: bindparam(c) for c in _ADDRESS_FIELDS})
)


def _text_problem(record: AddressRecord) -> str | None:
    """Why a record's text cannot be shown everywhere addresses are (pages, email), or None."""
    for name in ("street", "letter", "postcode", "city", "source_id", "entrance", "district"):
        try:
            clean_text(getattr(record, name), max_length=200, multiline=False)
        except ValueError as exc:
            return f"{name.upper()} {exc}"
    return None


def _address_values(record: AddressRecord, synthetic: bool) -> dict[str, Any]:
    """The column values of one register row."""
    key = record.street_key
    source_id = record.source_id or _natural_id(record, key)
    return {
        "street": record.street[:200],
        "number": record.number,
        "letter": record.letter[:10],
        "postcode": record.postcode,
        "city": record.city[:100],
        "street_key": key[:200],
        "city_key": city_key(record.city)[:100],
        "lon": record.lon,
        "lat": record.lat,
        "source_id": source_id[:100],
        "synthetic": synthetic,
    }


def _natural_id(record: AddressRecord, key: str) -> str:
    """A stable id for a row that has none: made from the address itself."""
    text = f"{key}|{record.number}|{record.letter}|{record.postcode}|{city_key(record.city)}"
    return "addr:" + hashlib.sha1(text.encode()).hexdigest()


# --------------------------------------------------------------------------- street matcher cache


@dataclass
class _CachedMatcher:
    matcher: StreetMatcher
    max_id: int
    built_at: float


_matchers: dict[str, _CachedMatcher] = {}
_matchers_lock = threading.Lock()


def forget_street_matchers() -> None:
    """Drop the cached street matchers (the register changed in this process)."""
    with _matchers_lock:
        _matchers.clear()


def street_matcher(session: Session) -> StreetMatcher:
    """The distinct street keys of the register, cached per database and process.

    Rebuilt when the register has grown (its highest id changed), when an
    import ran in this process, or after :data:`MATCHER_MAX_AGE_S`.
    """
    cache_key = session.get_bind().engine.url.render_as_string(hide_password=True)
    max_id = session.scalar(select(func.max(Address.id))) or 0
    with _matchers_lock:
        cached = _matchers.get(cache_key)
    if (
        cached is not None
        and cached.max_id == max_id
        and time.monotonic() - cached.built_at < MATCHER_MAX_AGE_S
    ):
        return cached.matcher
    keys = session.scalars(select(Address.street_key).distinct())
    matcher = StreetMatcher(keys)
    with _matchers_lock:
        _matchers[cache_key] = _CachedMatcher(matcher, max_id, time.monotonic())
    logger.debug("street matcher rebuilt: %d street keys", len(matcher))
    return matcher


# --------------------------------------------------------------------------- geocoding


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one address text to one register row."""

    text: str
    address_id: int | None = None
    label: str = ""
    lon: float | None = None
    lat: float | None = None
    reason: str = ""
    """Why nothing was found (empty when ``address_id`` is set)."""
    fuzzy: bool = False

    @property
    def found(self) -> bool:
        """True when the text named exactly one address."""
        return self.address_id is not None


class AddressLookup:
    """Resolves many address texts against the register with few queries.

    Candidates are fetched per street key (one ``IN`` query per batch of
    keys, see :meth:`preload`) and kept, so a register of 10,000 customers
    on a few hundred streets costs a few queries, not 10,000.
    """

    def __init__(self, session: Session, *, geocoder: NominatimGeocoder | None = None) -> None:
        self.session = session
        self.geocoder = geocoder
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        self._matcher: StreetMatcher | None = None

    def preload(self, street_keys: Iterable[str]) -> None:
        """Fetch the register rows of these street keys (those not fetched yet)."""
        missing = sorted({k for k in street_keys if k and k not in self._by_key})
        for start in range(0, len(missing), 500):
            batch = missing[start : start + 500]
            for key in batch:
                self._by_key[key] = []
            rows = self.session.execute(
                select(*_LOOKUP_COLUMNS).where(Address.street_key.in_(batch))
            ).mappings()
            for row in rows:
                self._by_key[row["street_key"]].append(dict(row))

    def _fuzzy_keys(self, key: str) -> list[str]:
        if self._matcher is None:
            self._matcher = street_matcher(self.session)
        best = self._matcher.best(key, limit=5, score_cutoff=GEOCODE_FUZZY_CUTOFF)
        return [k for k, _score in best]

    def resolve(self, text: str) -> Resolution:
        """The single register address ``text`` names, or why there is none.

        Exact street key first; a misspelled street is tried through the
        fuzzy matcher. A house number is required, and the letter must match
        (``12`` does not find ``12 B``). The same address in two towns is
        ambiguous unless a postcode or town tells them apart.
        """
        query = parse_address_query(text)
        if not query.street_key:
            return Resolution(text, reason="the address has no street name")
        if query.number is None:
            return Resolution(text, reason=f"{text.strip()!r} has no house number")
        self.preload([query.street_key])
        matches = self._exact(query, self._by_key.get(query.street_key, []))
        fuzzy = False
        if not matches:
            keys = [k for k in self._fuzzy_keys(query.street_key) if k != query.street_key]
            self.preload(keys)
            candidates = [row for k in keys for row in self._by_key.get(k, [])]
            matches = self._exact(query, candidates, allow_fuzzy=True)
            if matches:
                best_key = matches[0]["street_key"]
                matches = [m for m in matches if m["street_key"] == best_key]
                fuzzy = True
        if not matches:
            return self._ask_geocoder(text, query) or Resolution(
                text, reason=f"unknown address {text.strip()!r}"
            )
        if len(matches) > 1:
            shown = "; ".join(sorted(_label(m) for m in matches)[:3])
            return Resolution(
                text,
                reason=(
                    f"address {text.strip()!r} is ambiguous: it matches {len(matches)} addresses "
                    f"({shown}); add the postcode or town"
                ),
            )
        row = matches[0]
        return Resolution(
            text,
            address_id=row["id"],
            label=_label(row),
            lon=row["lon"],
            lat=row["lat"],
            fuzzy=fuzzy,
        )

    def _ask_geocoder(self, text: str, query: AddressQuery) -> Resolution | None:
        """The online geocoder's answer, added to the register, when one is configured.

        Only a house-level hit with the typed number and letter counts: a street
        or a town would put a resident somewhere they do not live.
        """
        if self.geocoder is None:
            return None
        try:
            results = self.geocoder.search(text, limit=1)
        except GeocoderError as exc:
            logger.warning("geocoder fallback failed: %s", exc)
            return Resolution(text, reason=f"unknown address {text.strip()!r} ({exc})")
        hit = results[0] if results else None
        if (
            hit is None
            or hit.number != query.number
            or hit.letter != query.letter
            or not hit.street
        ):
            return None
        source_id = f"geocoder:{hit.osm_ref}" if hit.osm_ref else None
        address = (
            self.session.scalar(select(Address).where(Address.source_id == source_id))
            if source_id
            else None
        )
        if address is None:
            address = Address(
                street=hit.street, number=hit.number, letter=hit.letter, postcode=hit.postcode,
                city=hit.city, street_key=street_key(hit.street), city_key=city_key(hit.city),
                lon=hit.lon, lat=hit.lat, source_id=source_id,
            )  # fmt: skip
            self.session.add(address)
            self.session.flush()
        row = {c: getattr(address, c) for c in ("street", "number", "letter", "postcode", "city")}
        return Resolution(
            text, address_id=address.id, label=_label(row), lon=address.lon, lat=address.lat
        )

    @staticmethod
    def _exact(
        query: AddressQuery, candidates: list[dict[str, Any]], *, allow_fuzzy: bool = False
    ) -> list[dict[str, Any]]:
        """The candidates with the typed number and letter in an agreeing place, best first."""
        same_number = [
            c for c in candidates if c["number"] == query.number and c["letter"] == query.letter
        ]
        ranked = rank_candidates(query, same_number)
        return [
            r.candidate
            for r in ranked
            if _place_agrees(query, r.candidate)
            and (r.exact_address or (allow_fuzzy and r.match == "fuzzy"))
        ]


def _place_agrees(query: AddressQuery, row: Mapping[str, Any]) -> bool:
    """False when a typed postcode or town contradicts the row's."""
    if query.postcode and row["postcode"] and row["postcode"] != query.postcode:
        return False
    return not (
        query.city_key and row["city_key"] and not row["city_key"].startswith(query.city_key)
    )


def _label(row: Mapping[str, Any]) -> str:
    return format_address(row["street"], row["number"], row["letter"], row["postcode"], row["city"])


def configured_geocoder(config: Settings) -> NominatimGeocoder | None:
    """The online fallback geocoder ``VARSLA_GEOCODER_URL`` names; None (off) by default."""
    if not config.geocoder_url:
        return None
    return NominatimGeocoder(config.geocoder_url, config.geocoder_user_agent)


def resolve_address(session: Session, text: str) -> Resolution:
    """Resolve one address text (see :meth:`AddressLookup.resolve`)."""
    return AddressLookup(session).resolve(text)


def geocode(session: Session, text: str) -> Address | None:
    """The register address ``text`` names (exact, then a misspelled street), or None."""
    resolution = resolve_address(session, text)
    if resolution.address_id is None:
        logger.debug("geocode %r: %s", text, resolution.reason)
        return None
    return session.get(Address, resolution.address_id)


# --------------------------------------------------------------------------- autocomplete


@dataclass(frozen=True)
class Suggestion:
    """One autocomplete answer: a register row and how well it matched."""

    id: int
    street: str
    number: int | None
    letter: str
    postcode: str
    city: str
    lon: float
    lat: float
    match: str
    score: float

    @property
    def label(self) -> str:
        """The address as people write it: ``Storgatan 12 B, 591 30 Motala``."""
        return format_address(self.street, self.number, self.letter, self.postcode, self.city)


def autocomplete(session: Session, q: str, limit: int = 10) -> list[Suggestion]:
    """Addresses matching what was typed so far, best first.

    Street by key prefix (a range on the indexed ``street_key``), narrowed
    by the typed house number and place when there are any; a misspelled
    street falls back to the fuzzy matcher; a bare postcode (``591 30``)
    lists addresses with that postcode. Several streets come before many
    numbers of one street when no number was typed.
    """
    text = q.strip()
    if not text:
        return []
    postcode_only = _POSTCODE_ONLY_RE.fullmatch(text)
    if postcode_only:
        postcode = postcode_only.group(1) + postcode_only.group(2)
        rows = _rows(
            session,
            select(*_LOOKUP_COLUMNS)
            .where(Address.postcode == postcode)
            .order_by(Address.street_key, Address.number, Address.letter)
            .limit(limit),
        )
        return [_suggestion(r, "exact", 100.0) for r in rows]
    query = parse_address_query(text)
    if not query.street_key:
        return []
    rows = _prefix_rows(session, query, [query.street_key])
    if not rows:
        keys = [k for k, _score in street_matcher(session).best(query.street_key, limit=5)]
        if keys:
            rows = _prefix_rows(session, query, keys, exact_keys=True)
    ranked = rank_candidates(query, rows)
    return [_suggestion(r.candidate, r.match, r.score) for r in _diversify(query, ranked, limit)]


def _prefix_rows(
    session: Session, query: AddressQuery, keys: list[str], *, exact_keys: bool = False
) -> list[dict[str, Any]]:
    """Candidate rows for the street key prefix (or exact keys), narrowed by number and place."""
    street: ColumnElement[bool]
    if exact_keys:
        street = Address.street_key.in_(keys)
    else:
        key = keys[0]
        street = (Address.street_key >= key) & (Address.street_key < _next_prefix(key))
    base = select(*_LOOKUP_COLUMNS).where(street)
    filters = []
    if query.number is not None:
        filters.append(Address.number == query.number)
        if query.letter:
            filters.append(Address.letter == query.letter)
    if query.postcode:
        filters.append(Address.postcode == query.postcode)
    if query.city_key:
        filters.append(
            (Address.city_key >= query.city_key) & (Address.city_key < _next_prefix(query.city_key))
        )
    order = (Address.street_key, Address.number, Address.letter)
    # Narrowest first; widen (drop place, then number) until something is found.
    attempts = [filters]
    if query.postcode or query.city_key:
        attempts.append(filters[: 2 if query.letter else 1] if query.number is not None else [])
    if query.number is not None:
        attempts.append([])
    for attempt in attempts:
        rows = _rows(session, base.where(*attempt).order_by(*order).limit(_CANDIDATE_LIMIT))
        if rows:
            return rows
    return []


def _next_prefix(key: str) -> str:
    """The smallest string above every string starting with ``key`` (keys are ASCII)."""
    return key[:-1] + chr(ord(key[-1]) + 1)


def _rows(session: Session, statement: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(statement).mappings()]


def _diversify(
    query: AddressQuery, ranked: list[RankedCandidate], limit: int
) -> list[RankedCandidate]:
    """With no number typed, show one address per street and town first, then the rest."""
    if query.number is not None:
        return ranked[:limit]
    first: list[RankedCandidate] = []
    rest: list[RankedCandidate] = []
    seen: set[tuple[str, str]] = set()
    for item in ranked:
        street_town = (item.candidate["street_key"], item.candidate["city_key"])
        (rest if street_town in seen else first).append(item)
        seen.add(street_town)
    return (first + rest)[:limit]


def _suggestion(row: Mapping[str, Any], match: str, score: float) -> Suggestion:
    return Suggestion(
        id=row["id"],
        street=row["street"],
        number=row["number"],
        letter=row["letter"],
        postcode=row["postcode"],
        city=row["city"],
        lon=row["lon"],
        lat=row["lat"],
        match=match,
        score=round(score, 2),
    )
