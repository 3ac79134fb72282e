"""The delivery chart's data (sent, delivered, failed per minute and channel), and the SMS
parts counter counting the promised times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.models import Delivery
from tests.console.conftest import add_subscriber, centre, notice_in_state
from tests.factories import GESUNDA_BOX

GESUNDA = centre(GESUNDA_BOX)


def _delivery(notice, who, channel, status, *, sent_at, updated_at):
    return Delivery(
        notice_id=notice.id,
        revision_id=notice.revisions[0].id,
        revision_number=1,
        subscriber_id=who.id,
        channel=channel,
        status=status,
        attempts=1,
        created_at=sent_at or updated_at,
        updated_at=updated_at,
        sent_at=sent_at,
    )


def test_the_chart_counts_per_minute_and_channel(session, office, as_):
    notice = notice_in_state(session, office, "active")
    people = [add_subscriber(session, GESUNDA, phone=f"+4670174070{i}") for i in range(6)]
    t0 = datetime(2026, 11, 30, 13, 0, 10, tzinfo=UTC)
    minute = timedelta(minutes=1)
    rows = [
        # sent in minute 0, delivered in minute 1
        ("sms", "delivered", t0, t0 + minute),
        ("sms", "delivered", t0 + timedelta(seconds=20), t0 + minute),
        # sent in minute 0, failed in minute 2
        ("sms", "undelivered", t0, t0 + 2 * minute),
        # sent in minute 2, still only accepted
        ("sms", "sent", t0 + 2 * minute, t0 + 2 * minute),
        # email: sent in minute 1; never sent and failed in minute 3
        ("email", "sent", t0 + minute, t0 + minute),
        ("email", "failed", None, t0 + 3 * minute),
    ]
    for who, (channel, status, sent, updated) in zip(people, rows, strict=True):
        session.add(_delivery(notice, who, channel, status, sent_at=sent, updated_at=updated))
    session.commit()
    client = as_("author")
    chart = client.get(f"/console/notices/{notice.id}/deliveries/timeline.json").get_json()
    assert chart["bucket_s"] == 60
    assert chart["buckets"][0] == "2026-11-30T13:00:00+00:00"
    assert chart["bucket_labels"] == ["14:00", "14:01", "14:02", "14:03"]  # Swedish time
    assert chart["series"]["sms"] == {
        "sent": [3, 0, 1, 0],
        "delivered": [0, 2, 0, 0],
        "failed": [0, 0, 1, 0],
    }
    assert chart["series"]["email"] == {
        "sent": [0, 1, 0, 0],
        "delivered": [0, 0, 0, 0],
        "failed": [0, 0, 0, 1],
    }
    assert chart["labels"]["kinds"] == {
        "sent": "Skickade",
        "delivered": "Levererade",
        "failed": "Misslyckade",
    }
    # The page carries the same figures as a table (the chart's text alternative).
    page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert 'id="delivery-chart-table"' in page
    assert "SMS: Levererade" in page and "14:03" in page


def test_a_long_delivery_gets_wider_buckets(session, office, as_):
    notice = notice_in_state(session, office, "active")
    t0 = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    for i, sent in enumerate((t0, t0 + timedelta(hours=3))):
        who = add_subscriber(session, GESUNDA, phone=f"+4670174070{i}")
        session.add(_delivery(notice, who, "sms", "sent", sent_at=sent, updated_at=sent))
    session.commit()
    chart = as_("approver").get(f"/console/notices/{notice.id}/deliveries/timeline.json")
    data = chart.get_json()
    assert data["bucket_s"] == 300 and len(data["buckets"]) == 37
    assert sum(data["series"]["sms"]["sent"]) == 2
    assert data["series"]["sms"]["sent"][0] == 1 and data["series"]["sms"]["sent"][-1] == 1


def test_no_deliveries_no_buckets(session, office, as_):
    notice = notice_in_state(session, office, "draft")
    chart = as_("author").get(f"/console/notices/{notice.id}/deliveries/timeline.json")
    assert chart.get_json()["buckets"] == [] and chart.get_json()["series"] == {}


def test_the_sms_parts_counter_counts_the_promised_times(as_):
    client = as_("author")
    texts = {"sv": {"headline": "Koka vattnet", "description": "x" * 120}}
    without = client.post("/console/sms-parts", json={"texts": texts}).get_json()["sv"]
    with_times = client.post(
        "/console/sms-parts",
        json={
            "texts": texts,
            "times": {
                "next_update": "2030-01-01T14:00",
                "expected_restoration": "2030-01-01T16:00",
            },
        },
    ).get_json()["sv"]
    assert "Nästa besked senast 1 jan 14:00. Beräknat klart 1 jan 16:00" in with_times["body"]
    assert with_times["characters"] > without["characters"]
    assert without["segments"] == 1 and with_times["segments"] == 2
