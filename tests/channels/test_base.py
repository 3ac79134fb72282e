"""What every channel and the app share: language fallback, local time, the push interface."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.base import (
    DeliveryResult,
    Message,
    NoticeText,
    Outcome,
    PushChannel,
    Recipient,
    effective_language,
    from_local,
    local_time,
    to_local,
    ui_language,
)
from channels.labels import category_label, severity_label, short_local_time
from tests.channels.snapshots import make_snapshot


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("sv", "sv"), ("en", "en"), ("en-GB", "en"), ("EN_us", "en"), ("de", "sv"), ("", "sv")],
)
def test_ui_language(requested, expected):
    assert ui_language(requested) == expected


def test_effective_language_prefers_wanted_then_swedish_then_any():
    assert effective_language({"sv": 1, "en": 2}, "en") == "en"
    assert effective_language({"sv": 1, "en": 2}, "en-GB") == "en"
    assert effective_language({"sv": 1, "en": 2}, "de") == "sv"
    assert effective_language({"en": 2}, "sv") == "en"
    assert effective_language(["de"], "de") == "de"
    with pytest.raises(LookupError):
        effective_language({}, "sv")


def test_snapshot_text_and_its_language_agree():
    snapshot = make_snapshot(texts={"sv": NoticeText("Koka"), "en": NoticeText("Boil")})
    assert snapshot.text("en-GB").headline == "Boil"
    assert snapshot.text_language("en-GB") == "en"
    assert snapshot.text("fi").headline == "Koka"
    english_only = make_snapshot(texts={"en": NoticeText("Boil")}, area_description={})
    assert english_only.text("sv").headline == "Boil"
    assert english_only.area_text("sv") == ""


def test_local_time_is_swedish_wall_clock_in_winter_and_summer():
    assert local_time(datetime(2026, 11, 24, 7, 15, tzinfo=UTC)) == "2026-11-24 08:15"
    assert local_time(datetime(2026, 7, 1, 7, 15, tzinfo=UTC)) == "2026-07-01 09:15"
    assert local_time(None) == ""
    # What the database hands back without a zone is UTC.
    assert local_time(datetime(2026, 11, 24, 7, 15)) == "2026-11-24 08:15"


def test_from_local_reads_a_typed_wall_clock_time():
    typed = from_local(datetime(2026, 7, 1, 9, 15))
    assert typed.astimezone(UTC) == datetime(2026, 7, 1, 7, 15, tzinfo=UTC)
    assert to_local(typed).hour == 9


def test_short_local_time_and_labels_in_both_languages():
    moment = datetime(2026, 5, 24, 7, 0, tzinfo=UTC)
    assert short_local_time(moment, "sv") == "24 maj 09:00"
    assert short_local_time(moment, "en") == "24 May 09:00"
    assert short_local_time(None, "sv") == "nu"
    assert category_label("district_heating", "sv") == "Fjärrvärme"
    assert severity_label("Minor", "en") == "Information"
    assert category_label("volcano", "sv") == "volcano"


class _Recording(PushChannel):
    name = "test"
    body_maxlen = 10

    def __init__(self) -> None:
        self.sent: list[str] = []

    def try_send(self, recipient: Recipient, message: Message) -> DeliveryResult:
        self.sent.append(message.body)
        return DeliveryResult(Outcome.ACCEPTED, provider_ref="ref-1")


def test_push_channel_refuses_a_body_over_its_limit_without_calling_the_provider():
    channel = _Recording()
    too_long = channel.send(Recipient("+46701234567"), Message(body="x" * 11))
    assert too_long.outcome is Outcome.FAILED
    assert too_long.error_code == "body_too_long"
    assert channel.sent == []
    fits = channel.send(Recipient("+46701234567"), Message(body="x" * 10))
    assert fits.ok and fits.provider_ref == "ref-1"
    assert channel.sent == ["x" * 10]
