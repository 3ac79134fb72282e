"""What an operator sees of a notice's deliveries in the console."""

from __future__ import annotations

from tests.delivery import create_subscriber, run_dispatcher
from tests.factories import PASSWORD


def _login(client, email: str) -> None:
    answer = client.post("/console/login", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def test_the_notice_page_shows_deliveries_failures_and_masks_recipients(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    fake_twilio.faults["+46710000002"] = "21211"
    fake_smtp.replies["hostile@example.se"] = "550 5.1.1 <script>alert(1)</script> no such user"
    create_subscriber(db_session, phone="+46710000001", email="anna@example.se")
    create_subscriber(db_session, phone="+46710000002")
    create_subscriber(db_session, email="hostile@example.se")
    db_session.commit()
    client = dispatch_app.test_client()
    _login(client, "author@test.varsla.se")

    notice = desk.approved()
    before = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert "Inga utskick ännu: de skrivs när meddelandet publiceras." in before
    # What residents will read, and what it costs, before anyone publishes.
    assert "SMS som invånarna får (revision 1)" in before
    assert "<h3>Svenska: 1 del, GSM-7," in before and "<h3>Engelska: 1 del, GSM-7," in before
    assert '<pre lang="sv" class="sms">Koka vattnet i Gesunda\n' in before

    desk.publish_approved(notice)
    run_dispatcher(dispatch_app)
    page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)

    assert "4 utskick." in page
    assert '<th scope="row">SMS</th>' in page and '<th scope="row">E-post</th>' in page
    assert "<caption>Senaste misslyckade utskick</caption>" in page
    assert "21211" in page and "+467****02" in page
    assert "+46710000002" not in page  # not even inside Twilio's error text
    assert "h***@example.se" in page and "hostile@example.se" not in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_sms_preview_warns_of_characters_outside_gsm7_and_escapes_markup(
    dispatch_app, db_session, desk
):
    client = dispatch_app.test_client()
    _login(client, "author@test.varsla.se")
    texts = {
        "sv": {
            "headline": "Koka vattnet 💧 <script>alert(1)</script>",
            "description": "Prover visar bakterier.",
            "instruction": "Koka vattnet.",
        }
    }
    notice = desk.approved(texts=texts, channels=["sms"])
    page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert "<h3>Svenska: 2 delar, UCS-2," in page  # 67 UTF-16 units a part
    assert "Texten innehåller tecken utanför GSM-7" in page
    assert "<script>alert(1)</script>" not in page
    assert "Koka vattnet 💧 &lt;script&gt;alert(1)&lt;/script&gt;" in page
