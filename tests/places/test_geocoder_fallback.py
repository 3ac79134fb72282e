"""The optional online geocoder: asked only when configured, only when the register has no
match, and only a house-level answer with the typed number counts."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from alerts.models import Address, Subscriber
from tests.conftest import running_app
from tests.places.helpers import write


class _Nominatim(BaseHTTPRequestHandler):
    """Knows one house, Hamngatan 3 in Motala; answers a street-level hit for Kanalgatan."""

    queries: list[str] = []

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["q"][0]
        type(self).queries.append(query)
        places = []
        if query.startswith("Hamngatan 3"):
            places = [{
                "osm_type": "node", "osm_id": 7, "lat": "58.5392", "lon": "15.0468",
                "display_name": "3, Hamngatan, Motala, 591 30, Sverige",
                "address": {"house_number": "3", "road": "Hamngatan", "town": "Motala",
                            "postcode": "591 30", "country_code": "se"},
            }]  # fmt: skip
        elif query.startswith("Kanalgatan"):
            places = [{
                "osm_type": "way", "osm_id": 8, "lat": "58.54", "lon": "15.04",
                "display_name": "Kanalgatan, Motala, Sverige",
                "address": {"road": "Kanalgatan", "town": "Motala", "country_code": "se"},
            }]  # fmt: skip
        body = json.dumps(places).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Quiet."""


@pytest.fixture
def nominatim():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Nominatim.queries.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


REGISTER = (
    "address,phone,email,language\n"
    '"Hamngatan 3, 591 30 Motala",+46701740605,,sv\n'
    '"Kanalgatan 9, Motala",+46701740606,,sv\n'
)


def test_without_a_geocoder_unknown_addresses_are_reported(app, runner, tmp_path, nominatim):
    result = runner.invoke(args=["residents", "import", write(tmp_path, "r.csv", REGISTER)])
    assert result.exit_code == 0, result.output
    assert "line 2" in result.output and "unknown address 'Hamngatan 3, 591 30 Motala'" in (
        result.output
    )
    assert _Nominatim.queries == []  # off by default: nothing leaves the machine


def test_a_configured_geocoder_finds_a_house_and_adds_it_to_the_register(
    database_url, tmp_path, nominatim
):
    with running_app(
        database_url, tmp_path, VARSLA_GEOCODER_URL=nominatim,
        VARSLA_GEOCODER_USER_AGENT="varsla-tests",
    ) as app:  # fmt: skip
        result = app.test_cli_runner().invoke(
            args=["residents", "import", write(tmp_path, "r.csv", REGISTER)]
        )
        assert result.exit_code == 0, result.output
        from alerts.extensions import db

        with db.sessionmaker() as session:
            address = session.scalar(select(Address).where(Address.street == "Hamngatan"))
            assert address is not None
            assert (address.number, address.postcode, address.source_id) == (
                3, "59130", "geocoder:node/7"
            )  # fmt: skip
            subscriber = session.scalar(
                select(Subscriber).where(Subscriber.phone == "+46701740605")
            )
            assert subscriber is not None
            assert subscriber.locations[0].address_id == address.id
            # A street without the house is not a place someone lives: refused.
            assert (
                session.scalar(select(Subscriber).where(Subscriber.phone == "+46701740606")) is None
            )
        assert "line 3" in result.output and "Kanalgatan 9" in result.output
        assert len(_Nominatim.queries) == 2
