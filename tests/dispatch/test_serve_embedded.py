"""``varsla serve``, the one-process SQLite install, run as a municipality runs it.

The real console script, on a fresh SQLite file: the schema, operators, API keys,
zones, the address register and the customer register come in through the
``varsla`` commands; the notice goes through the JSON API (an author drafts and
submits, an approver approves and publishes); the embedded dispatcher sends it with
the real Twilio SDK to the local fake Twilio and over SMTP to the local aiosmtpd.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.factories import BERGKARLAS_BOX, GESUNDA_BOX, notice_payload
from tests.fakes.smtp_server import FakeSmtp, free_port
from tests.fakes.twilio_server import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
VARSLA = Path(sys.executable).with_name("varsla")  # the console script installers run
DEADLINE_S = 30.0
PASSWORD = "correct horse battery staple"
AUTHOR = "skrivare@mora.se"
APPROVER = "godkannare@mora.se"


@dataclass(frozen=True)
class Resident:
    """A row of the utility's customer register."""

    address: str
    phone: str  # as the register spells it; Varsla stores E.164
    email: str
    language: str
    e164: str


#: Four households in Gesunda (the notice's zone) and one in Bergkarlås (outside it).
INSIDE = [
    Resident("Gesundavägen 3, 792 90 Sollerön", "070-100 00 01", "anna@example.se", "sv",
             "+46701000001"),
    Resident("Gesundavägen 5, 792 90 Sollerön", "+46701000002", "", "en", "+46701000002"),
    Resident("Gesundavägen 7, 792 90 Sollerön", "", "cecilia@example.com", "en", ""),
    Resident("Gesundavägen 9, 792 90 Sollerön", "0701000004", "", "", "+46701000004"),
]  # fmt: skip
OUTSIDE = Resident(
    "Bergkarlåsvägen 2, 792 90 Sollerön", "0701000005", "erik@example.se", "sv", "+46701000005"
)
#: The one-process install is SQLite's: this module runs in the suite's SQLite run.
pytestmark = pytest.mark.sqlite

HEADLINES = {"sv": "Koka vattnet i Gesunda", "en": "Boil water in Gesunda"}
INSTRUCTIONS = {"sv": "Koka vatten i minst en minut.", "en": "Boil water for at least one minute."}
ALL_CLEAR = {"sv": "AVBLÅST: ", "en": "ALL CLEAR: "}


def _language(resident: Resident) -> str:
    return resident.language or "sv"  # an empty language column means Swedish


def _box_feature(name: str, box: tuple[float, float, float, float]) -> dict[str, Any]:
    west, south, east, north = box
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _centre(box: tuple[float, float, float, float], step: int) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2 + step * 0.0005, (box[1] + box[3]) / 2)


def _write_registers(directory: Path) -> dict[str, Path]:
    """The zone file, the address register and the customer register, as files on disk."""
    zones = directory / "zoner.geojson"
    zones.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    _box_feature("Gesunda", GESUNDA_BOX),
                    _box_feature("Bergkarlås", BERGKARLAS_BOX),
                ],
            }
        ),
        encoding="utf-8",
    )
    addresses = io.StringIO()
    writer = csv.writer(addresses, lineterminator="\n")
    writer.writerow(["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION",
                     "POSTCODE", "ID"])  # fmt: skip
    for step, number in enumerate((3, 5, 7, 9)):
        lon, lat = _centre(GESUNDA_BOX, step)
        writer.writerow([lon, lat, number, "Gesundavägen", "", "Sollerön", "Mora",
                         "Dalarnas län", "79290", f"test-gesunda-{number}"])  # fmt: skip
    lon, lat = _centre(BERGKARLAS_BOX, 0)
    writer.writerow([lon, lat, 2, "Bergkarlåsvägen", "", "Sollerön", "Mora", "Dalarnas län",
                     "79290", "test-bergkarlas-2"])  # fmt: skip
    register = directory / "adressregister.csv"
    register.write_text(addresses.getvalue(), encoding="utf-8")
    customers = io.StringIO()
    writer = csv.writer(customers, lineterminator="\n")
    writer.writerow(["address", "phone", "email", "language"])
    for resident in [*INSIDE, OUTSIDE]:
        writer.writerow([resident.address, resident.phone, resident.email, resident.language])
    residents = directory / "kundregister.csv"
    residents.write_text(customers.getvalue(), encoding="utf-8")
    return {"zones": zones, "addresses": register, "residents": residents}


def _environment(
    database: Path, base_url: str, twilio: FakeTwilio | None = None, smtp: FakeSmtp | None = None
) -> dict:
    """The process environment of an install: nothing inherited that could redirect it."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VARSLA_", "TWILIO_", "FLASK_"))
    }
    env.update(
        VARSLA_DATABASE_URL=f"sqlite:///{database}",
        VARSLA_SECRET_KEY="serve-test-secret",
        VARSLA_BASE_URL=base_url,
        VARSLA_MAIL_FROM="Mora vatten <varsla@mora.test>",
        # The cheapest Argon2id, as in the rest of the suite: the strong cost is for
        # installations, and here two operators and every API call would pay it.
        VARSLA_PASSWORD_HASH_COST="test",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    if twilio is not None:
        env.update(
            VARSLA_TWILIO_API_URL=twilio.url,
            TWILIO_ACCOUNT_SID=twilio.account_sid,
            TWILIO_AUTH_TOKEN=twilio.auth_token,
            TWILIO_FROM="MoraVatten",
        )
    if smtp is not None:
        env["VARSLA_SMTP_URL"] = smtp.url
    return env


def _varsla(env: dict, *args: str, stdin: str | None = None) -> str:
    """Run one ``varsla`` command to completion; its standard output."""
    done = subprocess.run(
        [str(VARSLA), *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"varsla {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_for(
    what: str, observe: Callable[[], Any], done: Callable[[Any], bool], server: subprocess.Popen
) -> Any:
    """Poll ``observe`` until ``done`` holds for what it saw; fail after the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    seen = None
    while time.monotonic() < deadline:
        assert server.poll() is None, (
            f"varsla serve exited ({server.returncode}) waiting for {what}"
        )
        seen = observe()
        if done(seen):
            return seen
        time.sleep(0.05)
    pytest.fail(f"no {what} within {DEADLINE_S:g} s; last seen: {seen!r}")


class Api:
    """The JSON API as another system calls it, with one operator's API key."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy between us and 127.0.0.1
        self.http.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str) -> dict:
        response = self.http.get(f"{self.base_url}/api/v1{path}", timeout=10)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        response = self.http.post(f"{self.base_url}/api/v1{path}", json=body or {}, timeout=10)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()


@pytest.fixture
def twilio(request) -> Iterator[FakeTwilio]:
    """The local Twilio; ``indirect`` parametrisation gives its latency in seconds."""
    with FakeTwilio(latency_s=getattr(request, "param", 0.0)) as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as fake:
        yield fake


@pytest.fixture(scope="module")
def populated(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A SQLite install migrated and populated through the ``varsla`` commands, and both
    operators' API keys. Built once for the module (the commands send nothing); each test
    serves its own copy."""
    directory = tmp_path_factory.mktemp("install")
    database = directory / "varsla.sqlite3"
    env = _environment(database, "http://127.0.0.1:5000")
    files = _write_registers(directory)
    _varsla(env, "db", "upgrade")

    def operator(email: str, role: str) -> str:
        _varsla(env, "operators", "create", email, "--role", role, "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
        return _varsla(env, "apikeys", "create", email, "--label", "serve test").strip()

    def places() -> None:
        _varsla(env, "zones", "import", str(files["zones"]), "--kind", "water_supply")
        _varsla(env, "addresses", "import", str(files["addresses"]))
        imported = _varsla(env, "residents", "import", str(files["residents"]))
        assert "5 imported, 0 bad" in imported, imported

    # Independent setup runs side by side (SQLite serialises the writes); a command is
    # mostly interpreter start-up, and one after another they took several seconds.
    with ThreadPoolExecutor(3) as pool:
        author = pool.submit(operator, AUTHOR, "author")
        approver = pool.submit(operator, APPROVER, "approver")
        pool.submit(places).result()
        keys = {"author": author.result(), "approver": approver.result()}
    return database, keys


@pytest.fixture
def install(tmp_path, populated, twilio, smtp) -> Iterator[dict[str, Any]]:
    """``varsla serve`` running on a copy of the populated install.

    Yields the base URL and both operators' API keys. The server is stopped at the
    end; when the test failed, its output is printed (pytest shows it with the failure).
    """
    template, keys = populated
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database = tmp_path / "varsla.sqlite3"
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(database)) as copy:
        source.backup(copy)
    env = _environment(database, base_url, twilio, smtp)

    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(VARSLA), "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for("answer on /healthz", lambda: _healthy(base_url), bool, server)
        yield {"base_url": base_url, "keys": keys, "server": server, "database": database}
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as an operator stops it
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        print(f"--- varsla serve output (exit {server.returncode}) ---")
        print(log_path.read_text(encoding="utf-8", errors="replace")[-20000:])


def _healthy(base_url: str) -> bool:
    http = requests.Session()
    http.trust_env = False
    try:
        return http.get(f"{base_url}/healthz", timeout=1).ok
    except requests.ConnectionError:
        return False
    finally:
        http.close()


def _counts(api: Api, notice_id: str) -> dict:
    return api.get(f"/notices/{notice_id}/deliveries")


def test_serve_sends_the_alert_and_then_the_all_clear_to_the_residents_in_the_area(
    install, twilio, smtp
):
    base_url, server = install["base_url"], install["server"]
    author = Api(base_url, install["keys"]["author"])
    approver = Api(base_url, install["keys"]["approver"])

    draft = author.post("/notices", notice_payload(), expect=201)
    nid = draft["id"]
    assert draft["status"] == "draft"
    assert author.post(f"/notices/{nid}/submit")["status"] == "pending_approval"
    assert approver.post(f"/notices/{nid}/approve")["status"] == "approved"
    assert approver.post(f"/notices/{nid}/publish")["status"] == "active"

    sms_to = {r.e164: _language(r) for r in INSIDE if r.phone}
    mail_to = {r.email: _language(r) for r in INSIDE if r.email}
    alert_counts = {
        "sms": {"accepted": len(sms_to)},
        "email": {"accepted": len(mail_to)},
    }
    report = _wait_for(
        "alert accepted for every resident",
        lambda: _counts(author, nid),
        lambda counts: counts["by_channel"] == alert_counts,
        server,
    )
    assert report["total"] == len(sms_to) + len(mail_to)
    assert report["failures"] == []

    sms = twilio.messages
    assert sorted(m.to for m in sms) == sorted(sms_to)  # exactly one each, nobody outside
    for message in sms:
        language = sms_to[message.to]
        assert message.body.startswith(f"{HEADLINES[language]}\n{INSTRUCTIONS[language]}"), (
            message.to,
            message.body,
        )
        assert message.from_ == "MoraVatten"
        assert message.status_callback.startswith(f"{base_url}/webhooks/twilio/status")
    # The approver was told by email the moment the API's submit committed.
    told = [m for m in smtp.received if m.rcpt_tos == [APPROVER]]
    assert len(told) == 1 and f"/console/notices/{nid}" in told[0].message.get_content()
    mails = [m for m in smtp.received if m.rcpt_tos != [APPROVER]]
    assert sorted(r for m in mails for r in m.rcpt_tos) == sorted(mail_to)
    for mail in mails:
        language = mail_to[mail.rcpt_tos[0]]
        assert mail.message["Subject"] == HEADLINES[language]
        assert mail.message["To"] == mail.rcpt_tos[0]
        text = mail.message.get_body(("plain",)).get_content()
        assert INSTRUCTIONS[language] in text
    alert_sms, alert_mails = len(sms), len(mails)

    # The all-clear passes the same two-person approval, and reaches the same people.
    waiting = author.post(f"/notices/{nid}/cancel")
    assert waiting["pending_revision"]["msg_type"] == "Cancel"
    approver.post(f"/notices/{nid}/approve")
    assert approver.post(f"/notices/{nid}/publish")["status"] == "cancelled"
    _wait_for(
        "all-clear accepted for every resident",
        lambda: _counts(author, nid),
        lambda counts: counts["by_revision"] == {"1": alert_counts, "2": alert_counts},
        server,
    )

    sms = twilio.messages
    assert len(sms) == 2 * alert_sms
    for number, language in sms_to.items():
        bodies = [m.body for m in sms if m.to == number]
        assert len(bodies) == 2, (number, bodies)
        assert bodies[0].startswith(HEADLINES[language])
        assert bodies[1].startswith(ALL_CLEAR[language]), (number, bodies[1])
    assert len([m for m in smtp.received if m.rcpt_tos == [APPROVER]]) == 2  # and the all-clear
    mails = [m for m in smtp.received if m.rcpt_tos != [APPROVER]]
    assert len(mails) == 2 * alert_mails
    for address, language in mail_to.items():
        subjects = [m.message["Subject"] for m in mails if m.rcpt_tos == [address]]
        assert len(subjects) == 2, (address, subjects)
        assert subjects[0] == HEADLINES[language]
        assert subjects[1].startswith(ALL_CLEAR[language]), (address, subjects[1])
    assert OUTSIDE.e164 not in {m.to for m in sms}
    assert OUTSIDE.email not in {r for m in mails for r in m.rcpt_tos}
    assert server.poll() is None, "varsla serve died"


@pytest.mark.parametrize("twilio", [2.0], indirect=True)  # every SMS takes Twilio 2 s
def test_sigterm_lets_the_sends_in_flight_finish_and_records_them(install, twilio, smtp):
    """systemd and container runtimes stop a service with SIGTERM. Sends in flight must
    end recorded, not stuck in "sending" until their lease runs out (and then sent twice)."""
    base_url, server = install["base_url"], install["server"]
    author = Api(base_url, install["keys"]["author"])
    approver = Api(base_url, install["keys"]["approver"])
    nid = author.post("/notices", notice_payload(channels=["sms"]), expect=201)["id"]
    author.post(f"/notices/{nid}/submit")
    approver.post(f"/notices/{nid}/approve")
    approver.post(f"/notices/{nid}/publish")
    _wait_for(
        "SMS in flight",
        lambda: _counts(author, nid)["by_channel"],
        lambda counts: counts.get("sms", {}).get("sending", 0) > 0,
        server,
    )

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0

    with sqlite3.connect(install["database"]) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM deliveries WHERE channel = 'sms' GROUP BY status"
            ).fetchall()
        )
    assert "sending" not in statuses, statuses
    assert statuses.get("accepted", 0) == len(twilio.messages) > 0
