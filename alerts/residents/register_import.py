"""Bulk registration of residents from a utility's customer register.

Most residents never sign up; Nordic utilities reach them from their own
customer register under the public-task basis (GDPR art. 6(1)(e)).
:func:`import_residents` reads CSV with the columns
``address,phone,email,language``, checks and geocodes every row, reports the
rows it cannot use (line number and reason) and registers the rest:

- phone numbers are parsed with ``phonenumbers`` (default region SE) and
  stored in E.164; they must be valid numbers that can receive SMS (mobile);
- emails get a plain syntax check and are stored lowercased;
- language is ``sv`` or ``en`` (empty means ``sv``);
- the address must name exactly one address of the register.

A subscriber is found again by phone (or by email when the row has no
phone), so importing the same register twice adds nothing, and a resident
who answered STOP stays opted out. Imported subscribers are verified at once
(a public-task register needs no double opt-in) and carry the legal basis
and the source label.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from alerts.errors import ValidationFailed
from alerts.orm import table_of, utcnow
from alerts.places.register import AddressLookup
from alerts.residents.models import LegalBasis, Subscriber, SubscriberLocation
from geodata.addresses import csv_table, parse_address_query
from geodata.nominatim import NominatimGeocoder
from geodata.textfiles import FileProblem, csv_rows, decode_text, shown

logger = logging.getLogger(__name__)

COLUMNS = ("address", "phone", "email", "language")
LANGUAGES = ("sv", "en")
DEFAULT_REGION = "SE"
_SMS_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_CHUNK = 1000


class ResidentImportError(ValueError):
    """The file as a whole cannot be read as a customer register."""


@dataclass(frozen=True)
class ResidentRowError:
    """A row that was not imported: its line number in the file and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ResidentImportReport:
    """What a residents import did."""

    rows: int = 0
    """Data rows read (blank lines not counted)."""
    subscribers_created: int = 0
    subscribers_matched: int = 0
    """Rows whose phone or email belonged to a subscriber already registered."""
    locations_added: int = 0
    unchanged: int = 0
    """Good rows that added nothing: that contact at that address was already registered."""
    errors: list[ResidentRowError] = field(default_factory=list)
    warnings: list[ResidentRowError] = field(default_factory=list)
    """Rows imported with one contact because the other was unusable (a landline, say)."""

    @property
    def imported(self) -> int:
        """Good rows (the rows not in ``errors``)."""
        return self.rows - len(self.errors)


@dataclass(frozen=True)
class _Row:
    line: int
    phone: str | None
    email: str | None
    language: str
    address_id: int
    label: str
    lon: float
    lat: float


def normalise_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """A phone number that can receive SMS, in E.164 (``070-174 06 05`` → ``+46701740605``).

    Raises :class:`ValueError` saying why the number cannot be used.
    """
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise ValueError(f"phone {text!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"phone {text!r} is not a valid phone number")
    if phonenumbers.number_type(number) not in _SMS_TYPES:
        raise ValueError(f"phone {text!r} is not a mobile number, so it cannot receive SMS")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str) -> str:
    """An email address, lowercased; raises :class:`ValueError` when it is not one."""
    email = text.strip()
    if len(email) > 254 or not _EMAIL_RE.fullmatch(email) or ".." in email:
        raise ValueError(f"email {text!r} is not an email address")
    return email.lower()


def import_residents(
    session: Session,
    source: str | os.PathLike[str] | bytes,
    *,
    legal_basis: str = LegalBasis.PUBLIC_TASK,
    source_label: str,
    geocoder: NominatimGeocoder | None = None,
) -> ResidentImportReport:
    """Register the residents of a customer register (CSV ``address,phone,email,language``).

    Rows that fail are listed in the report with their line number and
    reason; the others are imported. Raises :class:`ResidentImportError`
    when the file as a whole is unusable (nothing is written then) and
    ``ValidationFailed`` for a bad ``legal_basis`` or an empty
    ``source_label``. Flushes, never commits.
    """
    if legal_basis not in {b.value for b in LegalBasis}:
        raise ValidationFailed.on(
            "legal_basis", f"must be one of {', '.join(b.value for b in LegalBasis)}"
        )
    source_label = source_label.strip()
    if not source_label:
        raise ValidationFailed.on("source", "name where the register comes from")
    raw_rows = _read_csv(_read_text(source))
    report = ResidentImportReport(rows=len(raw_rows))
    lookup = AddressLookup(session, geocoder=geocoder)
    lookup.preload(_street_keys(r for _line, r in raw_rows))
    good: list[_Row] = []
    for line, values in raw_rows:
        row, problems, dropped = _check_row(line, values, lookup)
        if problems:
            report.errors.append(ResidentRowError(line, "; ".join(problems)))
        elif row is not None:
            good.append(row)
            if dropped:
                report.warnings.append(ResidentRowError(line, dropped))
    _register(session, good, report, legal_basis=legal_basis, source_label=source_label)
    logger.info(
        "residents import from %s: %d rows, %d new subscribers, %d locations added, %d bad rows",
        source_label,
        report.rows,
        report.subscribers_created,
        report.locations_added,
        len(report.errors),
    )
    return report


def _read_text(source: str | os.PathLike[str] | bytes) -> str:
    """The file's text (UTF-8 with or without BOM; Windows-1252 as Excel writes it)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ResidentImportError(f"cannot read {os.fspath(source)!r}: {exc.strerror}") from exc
    try:
        return decode_text(data)
    except FileProblem as exc:
        raise ResidentImportError(str(exc)) from None


def _read_csv(text: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows as ``(line number, {column: value})``; bad field counts are kept for reporting."""
    lines = text.splitlines(keepends=True)
    if not any(line.strip() for line in lines):
        raise ResidentImportError("the file is empty")
    first = next(i for i, line in enumerate(lines) if line.strip())
    try:
        reader, header = csv_table(lines[first:])
    except FileProblem as exc:
        raise ResidentImportError(str(exc)) from None
    header = [h.lower() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ResidentImportError(
            f"the header lacks the column(s) {', '.join(missing)}; expected "
            f"{','.join(COLUMNS)} (found {shown(','.join(header)) or 'nothing'})"
        )
    index = {name: header.index(name) for name in COLUMNS}
    rows: list[tuple[int, dict[str, str]]] = []
    for line, values, unreadable in csv_rows(reader, first_line=first):
        if values is None:
            rows.append((line, {"_error": unreadable}))
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            rows.append(
                (
                    line,
                    {
                        "_error": (
                            f"has {len(values)} fields but the header has {len(header)} "
                            "(quote an address that contains the separator)"
                        )
                    },
                )
            )
            continue
        rows.append((line, {name: values[i].strip() for name, i in index.items()}))
    return rows


def _street_keys(rows: Iterable[dict[str, str]]) -> list[str]:
    """The street keys of the rows' addresses (to fetch their candidates in a few queries)."""
    return [parse_address_query(r["address"]).street_key for r in rows if r.get("address")]


def _check_row(
    line: int, values: dict[str, str], lookup: AddressLookup
) -> tuple[_Row | None, list[str], str]:
    """The checked row, or every problem found with it; and the contact left out, if any.

    A row with one usable contact and one unusable (a landline beside a good
    email, common in utilities' registers) is imported with the usable one: the
    resident still hears of the notices, and the report says what was left out.
    """
    if "_error" in values:
        return None, [values["_error"]], ""
    problems: list[str] = []
    phone = email = None
    contact_problems: list[str] = []
    if not values["phone"] and not values["email"]:
        problems.append("empty contact: neither phone nor email")
    if values["phone"]:
        try:
            phone = normalise_phone(values["phone"])
        except ValueError as exc:
            contact_problems.append(str(exc))
    if values["email"]:
        try:
            email = normalise_email(values["email"])
        except ValueError as exc:
            contact_problems.append(str(exc))
    dropped = ""
    if contact_problems and (phone or email):
        kept = "phone" if phone else "email"
        dropped = f"{contact_problems[0]}; imported with the {kept} only"
    else:
        problems.extend(contact_problems)
    language = values["language"].lower() or "sv"
    if language not in LANGUAGES:
        problems.append(f"language {values['language']!r} is not one of {', '.join(LANGUAGES)}")
    resolution = None
    if not values["address"]:
        problems.append("address is empty")
    else:
        resolution = lookup.resolve(values["address"])
        if not resolution.found:
            problems.append(resolution.reason)
    if problems or resolution is None or resolution.address_id is None:
        return None, problems, ""
    assert resolution.lon is not None and resolution.lat is not None
    return (
        _Row(
            line=line,
            phone=phone,
            email=email,
            language=language,
            address_id=resolution.address_id,
            label=resolution.label,
            lon=resolution.lon,
            lat=resolution.lat,
        ),
        [],
        dropped,
    )


def _register(
    session: Session,
    rows: list[_Row],
    report: ResidentImportReport,
    *,
    legal_basis: str,
    source_label: str,
) -> None:
    """Create or find the subscribers of the good rows and add their locations, in bulk."""
    by_phone, by_email = _existing_subscribers(session, rows)
    now = utcnow()
    # Subscribers to create, keyed like the lookups: ("phone", number) or ("email", address).
    new_subscribers: dict[tuple[str, str], dict] = {}
    new_email_owner: dict[str, tuple[str, str]] = {}
    wanted: list[tuple[tuple[str, str], _Row]] = []
    for row in rows:
        if row.phone:
            key = ("phone", row.phone)
            existing = by_phone.get(row.phone)
        else:
            # An email-only row joins the new subscriber of an earlier row with that email.
            key = new_email_owner.get(row.email or "", ("email", row.email or ""))
            existing = by_email.get(row.email or "")
        if existing is not None:
            report.subscribers_matched += 1
        elif key not in new_subscribers:
            new_subscribers[key] = {
                "phone": row.phone,
                "email": row.email,
                "language": row.language,
                "legal_basis": legal_basis,
                "source": source_label,
                "verified_at": now,
                "phone_verified_at": now if row.phone else None,
                "email_verified_at": now if row.email else None,
                "created_at": now,
                "updated_at": now,
            }
            if row.email:
                new_email_owner.setdefault(row.email, key)
        wanted.append((key, row))
    ids: dict[tuple[str, str], int] = {("phone", p): i for p, i in by_phone.items()} | {
        ("email", e): i for e, i in by_email.items()
    }
    keys = list(new_subscribers)
    for start in range(0, len(keys), _CHUNK):
        batch = keys[start : start + _CHUNK]
        # A Core executemany (the ORM would split rows by which values are None), then the
        # ids read back by contact: RETURNING in a guaranteed order goes row by row on SQLite.
        session.execute(insert(table_of(Subscriber)), [new_subscribers[k] for k in batch])
        ids.update(_ids_by_key(session, batch))
    report.subscribers_created = len(keys)
    subscriber_ids = {ids[key] for key, _row in wanted}
    have = _existing_locations(session, subscriber_ids)
    locations = []
    for key, row in wanted:
        pair = (ids[key], row.address_id)
        if pair in have:
            report.unchanged += 1
            continue
        have.add(pair)
        locations.append(
            {
                "subscriber_id": pair[0],
                "address_id": row.address_id,
                "label": row.label,
                "lon": row.lon,
                "lat": row.lat,
                "created_at": now,
            }
        )
    for start in range(0, len(locations), _CHUNK):
        session.execute(insert(table_of(SubscriberLocation)), locations[start : start + _CHUNK])
    report.locations_added = len(locations)
    session.flush()


def _ids_by_key(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ids of just-created subscribers, by ("phone", number) or ("email", address) key.

    Phones were matched before creation, so each new phone is unique; a new
    email-only subscriber is the only one with its email and no phone.
    """
    phones = [value for kind, value in keys if kind == "phone"]
    emails = [value for kind, value in keys if kind == "email"]
    found: dict[tuple[str, str], int] = {}
    if phones:
        for phone, subscriber_id in session.execute(
            select(Subscriber.phone, Subscriber.id).where(Subscriber.phone.in_(phones))
        ):
            if phone is not None:
                found["phone", phone] = subscriber_id
    if emails:
        for email, subscriber_id in session.execute(
            select(Subscriber.email, Subscriber.id).where(
                Subscriber.email.in_(emails), Subscriber.phone.is_(None)
            )
        ):
            if email is not None:
                found["email", email] = subscriber_id
    return found


def _existing_subscribers(
    session: Session, rows: list[_Row]
) -> tuple[dict[str, int], dict[str, int]]:
    """Subscribers already registered with the rows' phones, and (for rows without) emails."""
    phones = sorted({r.phone for r in rows if r.phone})
    emails = sorted({r.email for r in rows if not r.phone and r.email})
    by_phone: dict[str, int] = {}
    by_email: dict[str, int] = {}
    for start in range(0, len(phones), _CHUNK):
        for phone, subscriber_id in session.execute(
            select(Subscriber.phone, Subscriber.id)
            .where(Subscriber.phone.in_(phones[start : start + _CHUNK]))
            .order_by(Subscriber.id.desc())
        ):
            if phone is not None:
                by_phone[phone] = subscriber_id  # the oldest wins (ordered newest first)
    for start in range(0, len(emails), _CHUNK):
        for email, subscriber_id in session.execute(
            select(Subscriber.email, Subscriber.id)
            .where(Subscriber.email.in_(emails[start : start + _CHUNK]))
            .order_by(Subscriber.id.desc())
        ):
            if email is not None:
                by_email[email] = subscriber_id
    return by_phone, by_email


def _existing_locations(session: Session, subscriber_ids: set[int]) -> set[tuple[int, int]]:
    """The ``(subscriber id, address id)`` pairs already registered for these subscribers."""
    ordered = sorted(subscriber_ids)
    found: set[tuple[int, int]] = set()
    for start in range(0, len(ordered), _CHUNK):
        found.update(
            (s, a)
            for s, a in session.execute(
                select(SubscriberLocation.subscriber_id, SubscriberLocation.address_id).where(
                    SubscriberLocation.subscriber_id.in_(ordered[start : start + _CHUNK]),
                    SubscriberLocation.address_id.is_not(None),
                )
            )
            if a is not None
        )
    return found
