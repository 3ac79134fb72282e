"""Shared helpers for channel tests: a plain snapshot factory and the local provider fakes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.base import NoticeSnapshot, NoticeText
from tests.channels.snapshots import make_snapshot
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_server import FakeTwilio

BOIL_WATER_SV = NoticeText(
    headline="Koka vattnet i Bergkarlås",
    description="Prover visar bakterier i dricksvattnet i Bergkarlås och Östra Ryd.",
    instruction="Koka vatten till dryck och matlagning i minst en minut.",
)
BOIL_WATER_EN = NoticeText(
    headline="Boil water in Bergkarlås",
    description="Samples show bacteria in the drinking water in Bergkarlås and Östra Ryd.",
    instruction="Boil water for drinking and cooking for at least one minute.",
)


def create_snapshot(**overrides: Any) -> NoticeSnapshot:
    """An active boil-water notice for Bergkarlås (sv + en), first revision, sent now and
    expiring in two days: push channels compute validity from the real clock."""
    now = datetime.now(UTC).replace(microsecond=0)
    notice_id = overrides.pop("notice_id", uuid.uuid4())
    fields: dict[str, Any] = {
        "notice_id": notice_id,
        "texts": {"sv": BOIL_WATER_SV, "en": BOIL_WATER_EN},
        "sent": now,
        "updated": now,
        "onset": now,
        "expires": now + timedelta(days=2),
        "area_description": {"sv": "Bergkarlås, Motala", "en": "Bergkarlås, Motala"},
        "area_geojson_lon_lat": None,
        "zones": ("bergkarlas",),
        "url": f"https://varsla.motala.example/notices/{notice_id}",
        "cap_url": "",
        "sender": "varsla@motala.example",
        "sender_name": "Motala kommun",
    }
    fields.update(overrides)
    return make_snapshot(**fields)


@pytest.fixture
def fake_twilio():
    """A fake Twilio Messages API on 127.0.0.1 (see tests/fakes/twilio_server.py)."""
    with FakeTwilio(timeout_sleep_s=3) as fake:
        yield fake


@pytest.fixture
def fake_smtp():
    """A plain aiosmtpd server on 127.0.0.1 capturing what it receives."""
    with FakeSmtp() as fake:
        yield fake
