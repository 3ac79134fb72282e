"""Residents registered from a utility's customer register: bad rows reported, the rest in."""

from __future__ import annotations

import csv
import io
import random

import pytest
from sqlalchemy import func, select

from alerts.models import Address, LegalBasis, Subscriber, SubscriberLocation
from alerts.places.register import import_addresses
from alerts.residents.register_import import import_residents, normalise_email, normalise_phone
from geodata.demo import data_path
from tests.places.helpers import count, write

ROWS = 10_000
# Line number (the header is line 1) → (row, the reason the report must give).
BAD_ROWS = {
    17: (
        ["Påhittade gatan 99, 591 30 Motala", "0701740605", "", "sv"],
        "unknown address 'Påhittade gatan 99, 591 30 Motala'",
    ),
    230: (["{address}", "070-12", "", "sv"], "phone '070-12' is not a valid phone number"),
    1001: (
        ["{address}", "013-12 34 56", "", "sv"],
        "phone '013-12 34 56' is not a mobile number, so it cannot receive SMS",
    ),
    2500: (["{address}", "", "", "en"], "empty contact: neither phone nor email"),
    4000: (["{address}", "", "anna@", "sv"], "email 'anna@' is not an email address"),
    5555: (["{address}", "", "a@example.org", "de"], "language 'de' is not one of sv, en"),
    7777: (["", "0701234567", "", "sv"], "address is empty"),
    9000: (
        ["Nogatan 5", "telefon", "", "sv"],
        "phone 'telefon' is not a phone number; unknown address 'Nogatan 5'",
    ),
    9999: (
        ["{address}", "0701234567"],
        "has 2 fields but the header has 4 (quote an address that contains the separator)",
    ),
}


def demo_register(session) -> list[Address]:
    """The 2,000 synthetic demo addresses, imported and committed."""
    import_addresses(session, data_path("demo_addresses.csv").read_bytes(), synthetic=True)
    session.commit()
    return list(session.scalars(select(Address).order_by(Address.id)))


def address_text(address: Address, rng: random.Random) -> str:
    """The address as a utility's register might spell it (several Swedish variants)."""
    letter = f" {address.letter}" if address.letter else ""
    postcode = f"{address.postcode[:3]} {address.postcode[3:]}"
    street = address.street
    if rng.random() < 0.2:
        street = street.replace("gatan", "g.").replace("vägen", "v.")
    if rng.random() < 0.2:
        street = street.upper()
    return f"{street} {address.number}{letter}, {postcode} {address.city}"


def phone_text(i: int, rng: random.Random) -> str:
    digits = f"70{1_000_000 + i:07d}"
    return rng.choice(
        [f"0{digits}", f"+46{digits}", f"0{digits[:2]}-{digits[2:5]} {digits[5:7]} {digits[7:]}"]
    )


def make_register(addresses: list[Address], seed: int = 4) -> tuple[bytes, dict[int, dict]]:
    """A 10,000-row register with the bad rows of BAD_ROWS; returns it and the good rows by line."""
    rng = random.Random(seed)
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["address", "phone", "email", "language"])
    good: dict[int, dict] = {}
    for line in range(2, ROWS + 2):
        address = addresses[(line * 7) % len(addresses)]
        if line in BAD_ROWS:
            row = [v.replace("{address}", address_text(address, rng)) for v in BAD_ROWS[line][0]]
            writer.writerow(row)
            continue
        kind = line % 3
        phone = phone_text(line, rng) if kind in (0, 1) else ""
        email = f"kund{line}@Example.org" if kind in (1, 2) else ""
        language = rng.choice(["sv", "SV", "", "en"])
        writer.writerow([address_text(address, rng), phone, email, language])
        good[line] = {
            "address_id": address.id,
            "phone": f"+4670{1_000_000 + line:07d}" if phone else None,
            "email": email.lower() or None,
            "language": (language.lower() or "sv"),
        }
    return stream.getvalue().encode(), good


def test_a_ten_thousand_row_register_with_bad_rows(runner, session, tmp_path):
    addresses = demo_register(session)
    by_id = {a.id: a for a in addresses}
    content, good = make_register(addresses)
    path = write(tmp_path, "kunder.csv", content)

    result = runner.invoke(args=["residents", "import", path, "--source", "Mora Vatten 2026"])

    assert result.exit_code == 0, result.output
    assert (
        f"Read {ROWS} rows from {path} (source 'Mora Vatten 2026', legal basis public_task): "
        f"{ROWS - len(BAD_ROWS)} imported, {len(BAD_ROWS)} bad." in result.output
    )
    assert f"{len(BAD_ROWS)} rows not imported:" in result.output
    for line, (_row, reason) in BAD_ROWS.items():
        assert f"  line {line}: {reason}\n" in result.output

    subscribers = {
        s.phone or s.email: s
        for s in session.scalars(select(Subscriber).where(Subscriber.source == "Mora Vatten 2026"))
    }
    assert len(subscribers) == len(good) == ROWS - len(BAD_ROWS)
    assert count(session, SubscriberLocation) == len(good)
    for line, expected in list(good.items())[::97]:
        subscriber = subscribers[expected["phone"] or expected["email"]]
        assert subscriber.phone == expected["phone"]
        assert subscriber.email == expected["email"]
        assert subscriber.language == expected["language"]
        assert subscriber.legal_basis == LegalBasis.PUBLIC_TASK
        assert subscriber.verified_at is not None
        assert subscriber.wants("sms") == (expected["phone"] is not None)
        [location] = subscriber.locations
        address = by_id[expected["address_id"]]
        assert (location.address_id, location.lon, location.lat) == (
            address.id,
            address.lon,
            address.lat,
        ), line
        assert location.label.startswith(address.street)
    # One query: the subscribers' attributes were expired above, and reading them one by one
    # took 10,000 queries.
    phones = session.scalars(
        select(Subscriber.phone).where(Subscriber.source == "Mora Vatten 2026")
    ).all()
    assert len(phones) == len(good)
    assert all(phone is None or phone.startswith("+4670") for phone in phones)

    again = runner.invoke(args=["residents", "import", path, "--source", "Mora Vatten 2026"])
    assert again.exit_code == 0, again.output
    assert (
        f"0 new subscribers, {len(good)} rows matched existing subscribers, 0 addresses added, "
        f"{len(good)} already registered." in again.output
    )
    assert count(session, Subscriber) == len(good)
    assert count(session, SubscriberLocation) == len(good)


def test_one_contact_at_two_addresses_is_one_subscriber_with_two_places(session):
    addresses = demo_register(session)
    first, second = (
        f"{a.street} {a.number}{a.letter}, {a.postcode} {a.city}" for a in addresses[:2]
    )
    register = (
        "address,phone,email,language\n"
        f'"{first}",070-174 06 05,,sv\n'
        f'"{second}",+46701740605,,sv\n'
        f'"{first}",0701740605,,sv\n'
    )
    report = import_residents(
        session, register.encode(), legal_basis="consent", source_label="kundtjänst"
    )
    assert (report.subscribers_created, report.locations_added, report.unchanged) == (1, 2, 1)
    subscriber = session.scalar(select(Subscriber))
    assert (subscriber.phone, subscriber.legal_basis, subscriber.source) == (
        "+46701740605",
        "consent",
        "kundtjänst",
    )
    assert {loc.address_id for loc in subscriber.locations} == {addresses[0].id, addresses[1].id}


def test_a_resident_who_said_stop_stays_opted_out_after_a_reimport(session):
    from alerts.models import utcnow

    addresses = demo_register(session)
    a = addresses[0]
    text = f"{a.street} {a.number}{a.letter}, {a.postcode} {a.city}"
    register = f'address,phone,email,language\n"{text}",0701740606,,sv\n'
    import_residents(session, register.encode(), source_label="register")
    subscriber = session.scalar(select(Subscriber))
    subscriber.sms_opted_out_at = utcnow()
    session.flush()
    report = import_residents(session, register.encode(), source_label="register")
    assert (report.subscribers_created, report.unchanged) == (0, 1)
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 1
    assert session.scalar(select(Subscriber)).wants("sms") is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (
            b"adress,telefon\nx,y\n",
            "the header lacks the column(s) address, phone, email, language",
        ),
    ],
)
def test_a_file_that_is_no_register_is_refused(runner, session, tmp_path, content, message):
    result = runner.invoke(args=["residents", "import", write(tmp_path, "r.csv", content)])
    assert result.exit_code == 1
    assert "Nothing imported from" in result.output and message in result.output
    assert count(session, Subscriber) == 0


def test_an_unknown_legal_basis_is_refused(runner, tmp_path):
    path = write(tmp_path, "r.csv", "address,phone,email,language\n")
    result = runner.invoke(args=["residents", "import", path, "--legal-basis", "interest"])
    assert result.exit_code == 2
    assert "'interest' is not one of 'public_task', 'consent'" in result.output


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("070-174 06 05", "+46701740605"),
        ("+46 70 174 06 05", "+46701740605"),
        ("0046701740605", "+46701740605"),
        ("0701740605", "+46701740605"),
    ],
)
def test_phone_numbers_become_e164(text, e164):
    assert normalise_phone(text) == e164


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("08-465 000 00", "is not a mobile number"),
        ("0701", "is not a valid phone number"),
        ("hej", "is not a phone number"),
    ],
)
def test_bad_phone_numbers_are_explained(text, reason):
    with pytest.raises(ValueError, match=reason):
        normalise_phone(text)


@pytest.mark.parametrize(
    "text", ["anna@", "@example.org", "anna@example", "an na@example.org", "a..b@example.org"]
)
def test_bad_emails_are_refused(text):
    with pytest.raises(ValueError, match="is not an email address"):
        normalise_email(text)


def test_emails_are_kept_lowercase():
    assert normalise_email(" Anna.Berg+vatten@Example.ORG ") == "anna.berg+vatten@example.org"


def test_a_landline_beside_a_good_email_still_imports_the_email(runner, session, tmp_path):
    """Utilities' registers often hold a landline and an email: the resident should still
    hear of notices by email, and the operator learn that the landline was left out."""
    addresses = demo_register(session)
    first, second, third = (
        f"{a.street} {a.number}{a.letter}, {a.postcode} {a.city}" for a in addresses[:3]
    )
    register = (
        "address,phone,email,language\n"
        f'"{first}",013-12 34 56,anna@example.se,sv\n'
        f'"{second}",0701740607,bo@,en\n'
        f'"{third}",013-12 34 57,cecilia@,sv\n'
    )
    result = runner.invoke(args=["residents", "import", write(tmp_path, "r.csv", register)])
    assert result.exit_code == 0, result.output
    assert "3 rows from" in result.output and "2 imported, 1 bad" in result.output
    assert (
        "2 rows imported with one contact:\n"
        "  line 2: phone '013-12 34 56' is not a mobile number, so it cannot receive SMS; "
        "imported with the email only\n"
        "  line 3: email 'bo@' is not an email address; imported with the phone only\n"
    ) in result.output
    assert (
        "1 row not imported:\n"
        "  line 4: phone '013-12 34 57' is not a mobile number, so it cannot receive SMS; "
        "email 'cecilia@' is not an email address\n"
    ) in result.output
    imported = {(s.phone, s.email) for s in session.scalars(select(Subscriber))}
    assert imported == {(None, "anna@example.se"), ("+46701740607", None)}
