"""``varsla demo``: zones, a SYNTHETIC address register, operators and subscribers to try Varsla.

Everything loads from the files shipped in ``geodata/data``: the real
(simplified) boundaries of Motala (0583) and Mora (2062), invented
water-supply zones around real places (Motala centrum, Borensberg, Mora
centrum, Gesunda, Bergkarlås) and 2,000 invented addresses inside them, each
marked ``synthetic``. Subscribers are invented too: emails at
``example.org`` and phone numbers from the series the Swedish regulator PTS
reserves for fiction (070-174 06 05 to 070-174 06 99), so nothing can reach
a real person.

Running it again changes nothing: zones update by slug, addresses by their
id, operators keep their password, subscribers are found again by contact.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import secrets
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.config import settings
from alerts.i18n import cli_gettext as _
from alerts.operators.auth import create_operator
from alerts.operators.models import Operator, Role
from alerts.places.models import Address
from alerts.places.register import import_addresses
from alerts.places.zones import import_zones
from alerts.residents.models import LegalBasis, Subscriber
from alerts.residents.register_import import import_residents
from geodata.demo import data_path

logger = logging.getLogger(__name__)

DEMO_SOURCE = "demo"
DEMO_SUBSCRIBERS = 300
DEMO_SEED = 2062_0583
#: PTS (Post- och telestyrelsen) reserves 070-174 06 05 – 070-174 06 99 for fiction.
FICTION_MOBILES = tuple(f"+467017406{n:02d}" for n in range(5, 100))
DEMO_OPERATORS = (
    ("author@demo.varsla.se", Role.AUTHOR, "Demo author"),
    ("approver@demo.varsla.se", Role.APPROVER, "Demo approver"),
    ("admin@demo.varsla.se", Role.ADMIN, "Demo admin"),
)


def load_demo(session: Session) -> Iterator[str]:
    """Load the demo data, yielding lines for a person to read. Flushes, never commits."""
    yield _("Läser in Varslas demo (Motala och Mora)…")
    for name in ("municipalities.geojson", "water_zones.geojson"):
        report = import_zones(session, data_path(name).read_bytes())
        yield "  " + _(
            "zoner från %(file)s: %(count)s (%(new)s nya, %(updated)s uppdaterade): %(slugs)s",
            file=name,
            count=report.count,
            new=len(report.created),
            updated=len(report.updated),
            slugs=", ".join(report.created + report.updated),
        )
    addresses = import_addresses(
        session, data_path("demo_addresses.csv").read_bytes(), synthetic=True
    )
    yield "  " + _(
        "adressregister: %(count)s PÅHITTADE adresser (%(new)s nya, %(updated)s uppdaterade) "
        "— påhittade punkter inom de verkliga gränserna, verkliga postnummerserier; inget "
        "verkligt register",
        count=addresses.imported,
        new=addresses.created,
        updated=addresses.updated,
    )
    for problem in addresses.errors:
        yield "    " + _("hoppade över %(problem)s", problem=problem)
    yield from _operators(session)
    yield from _subscribers(session)
    yield ""
    console = settings().base_url.rstrip("/") + "/console/"
    yield _("Starta med `varsla serve` och öppna %(url)s för att logga in.", url=console)
    yield _("Inget skickas på riktigt förrän Twilio och SMTP är inställda: se konsolens utkorg.")


def _operators(session: Session) -> Iterator[str]:
    """The three demo operators; new ones get a generated password, printed once."""
    yield "  " + _("operatörer (logga in på /console/):")
    for email, role, name in DEMO_OPERATORS:
        if session.scalar(select(Operator).where(Operator.email == email)) is not None:
            yield f"    {email} ({role}): " + _("finns redan, lösenordet är oförändrat")
            continue
        password = secrets.token_urlsafe(12)
        create_operator(session, email, role=role, password=password, name=name)
        yield f"    {email} ({role}): " + _(
            "lösenord %(password)s  (visas bara nu)", password=password
        )


def _subscribers(session: Session) -> Iterator[str]:
    """A few hundred invented subscribers at demo addresses (consent, source "demo")."""
    rows = session.execute(
        select(Address.street, Address.number, Address.letter, Address.postcode, Address.city)
        .where(Address.synthetic.is_(True), Address.source_id.like("synthetic-%"))
        .order_by(Address.source_id)
    ).all()
    if not rows:
        yield "  " + _("prenumeranter: inga tillagda (inga demoadresser)")
        return
    rng = random.Random(DEMO_SEED)
    chosen = rng.sample(rows, min(DEMO_SUBSCRIBERS, len(rows)))
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["address", "phone", "email", "language"])
    for i, (street, number, letter, postcode, city) in enumerate(chosen):
        phone = FICTION_MOBILES[i] if i < len(FICTION_MOBILES) else ""
        # A third of those with a phone have no email; everyone else has one.
        email = "" if phone and i % 3 == 0 else f"invanare-{i + 1:03d}@example.org"
        language = "en" if i % 4 == 3 else "sv"
        postcode_text = f"{postcode[:3]} {postcode[3:]}"
        address = f"{street} {number}{(' ' + letter) if letter else ''}, {postcode_text} {city}"
        writer.writerow([address, phone, email, language])
    before = session.scalar(
        select(func.count()).select_from(Subscriber).where(Subscriber.source == DEMO_SOURCE)
    )
    report = import_residents(
        session,
        stream.getvalue().encode(),
        legal_basis=LegalBasis.CONSENT,
        source_label=DEMO_SOURCE,
    )
    total = (before or 0) + report.subscribers_created
    yield "  " + _(
        "prenumeranter: %(total)s påhittade invånare (%(new)s nya), %(phones)s med "
        "telefonnummer ur PTS fiktiva serie 070-174 06 05–99, e-post på example.org, "
        "rättslig grund samtycke, källa 'demo'",
        total=total,
        new=report.subscribers_created,
        phones=len(FICTION_MOBILES),
    )
    for problem in report.errors:
        yield "    " + _("hoppade över %(problem)s", problem=problem)
