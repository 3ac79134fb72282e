"""Fixtures for the residents' self-service: an address register around the test zones, the
app sending to the local Twilio-like server and aiosmtpd, and readers of what arrived."""

from __future__ import annotations

import re

import pytest

from alerts.places.register import import_addresses
from tests.conftest import running_app
from tests.delivery import provider_config
from tests.factories import BERGKARLAS_BOX, create_zone

ORG = {"VARSLA_ORG_NAME": "Mora kommun", "VARSLA_ORG_CONTACT": "kundtjanst@mora.example"}

# Gesundavägen lies in the Gesunda zone, Åsvägen in Bergkarlås; Storgatan (Motala) in no zone.
REGISTER = """\
LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID
14.5800,60.8800,5,Gesundavägen,,Sollerön,Mora,Dalarnas län,79290,r-1
14.5810,60.8810,7,Gesundavägen,,Sollerön,Mora,Dalarnas län,79290,r-2
14.4000,60.9300,3,Åsvägen,,Bergkarlås,Mora,Dalarnas län,79296,r-3
15.0400,58.5320,8,Storgatan,,Motala,Motala,Östergötlands län,59130,r-4
"""
HOME = "Gesundavägen 5, 792 90 Sollerön"
COTTAGE = "Åsvägen 3, 792 96 Bergkarlås"
NO_ZONE = "Storgatan 8, 591 30 Motala"


@pytest.fixture
def dispatch_app(database_url, tmp_path, fake_twilio, fake_smtp):
    """SMS to the fake Twilio server, email to aiosmtpd, with the organisation configured."""
    config = provider_config(fake_twilio, fake_smtp) | ORG
    with running_app(database_url, tmp_path, **config) as app:
        yield app


@pytest.fixture
def register(db_session, desk):
    """The zones (Gesunda from the desk, Bergkarlås), the address register, committed."""
    create_zone(db_session, "bergkarlas", "Bergkarlås", BERGKARLAS_BOX)
    import_addresses(db_session, REGISTER.encode())
    db_session.commit()


@pytest.fixture
def client(dispatch_app):
    return dispatch_app.test_client()


def sms_to(fake_twilio, phone: str) -> list[str]:
    return [m.body for m in fake_twilio.messages if m.to == phone]


def code_from(fake_twilio, phone: str) -> str:
    """The code in the last SMS to ``phone``."""
    bodies = sms_to(fake_twilio, phone)
    assert bodies, f"no SMS to {phone}"
    found = re.search(r"\b(\d{6})\b", bodies[-1])
    assert found, bodies[-1]
    return found.group(1)


def mails_to(fake_smtp, address: str):
    return [m for m in fake_smtp.received if address in m.rcpt_tos]


def plain_text(mail) -> str:
    message = mail.message
    part = message.get_body(("plain",)) if message.is_multipart() else message
    return part.get_content()


def link_from(fake_smtp, address: str, path: str) -> str:
    """The link containing ``path`` in the last email to ``address``."""
    mails = mails_to(fake_smtp, address)
    assert mails, f"no email to {address}"
    found = re.search(r"https?://[^/\s]+" + re.escape(path) + r"\S+", plain_text(mails[-1]))
    assert found, plain_text(mails[-1])
    return found.group(0)


def subscribe(client, expect: int = 202, **body):
    payload = {"address": HOME, "language": "sv", **body}
    response = client.post("/api/v1/subscriptions", json=payload)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def verify(client, phone: str, code: str, expect: int = 200):
    response = client.post("/api/v1/subscriptions/verify", json={"phone": phone, "code": code})
    assert response.status_code == expect, response.get_json()
    return response
