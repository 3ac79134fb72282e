"""SMS: what a resident's phone receives, sent with the real Twilio SDK to a local fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from twilio.request_validator import RequestValidator

from channels.base import Message, NoticeText, Outcome, Recipient
from channels.compose.sms import compose_sms
from channels.gsm import GSM7, UCS2, sms_info
from channels.providers.local_outbox import LocalOutbox
from channels.providers.twilio import (
    TRANSIENT_RECEIPT_ERROR_CODES,
    TWILIO_ERROR_OUTCOMES,
    TWILIO_OPT_OUT_CODE,
    RebasedTwilioHttpClient,
    TwilioSms,
    inbound_keyword,
    is_opt_out_error,
    is_transient_receipt_error,
    is_valid_signature,
    map_status_callback,
    parse_retry_after,
    receipt_error_outcome,
    twiml_reply,
)
from tests.channels.conftest import create_snapshot
from tests.fakes.twilio_server import FakeTwilio

LINK = "https://varsla.motala.example/n/4f2a"
CALLBACK = "https://varsla.motala.example/webhooks/twilio/status"
RESIDENT = "+46701234567"


def create_channel(fake: FakeTwilio, **overrides) -> TwilioSms:
    kwargs = {
        "from_number": "MotalaKommun",
        "status_callback_url": CALLBACK,
        "api_base_url": fake.url,
        "timeout_s": 2,
    }
    kwargs.update(overrides)
    return TwilioSms(fake.account_sid, fake.auth_token, **kwargs)


def sms_message(
    body: str = "Koka vattnet i Bergkarlås",
    *,
    reference: str = "dlv-1",
    expires: datetime | None = None,
) -> Message:
    return Message(body=body, reference=reference, expires=expires)


# --- composing ----------------------------------------------------------------------


def test_compose_swedish_alert():
    message = compose_sms(create_snapshot(), "sv", link=LINK, reference="dlv-1")
    assert message.body == (
        "Koka vattnet i Bergkarlås\n"
        "Koka vatten till dryck och matlagning i minst en minut.\n"
        "Prover visar bakterier i dricksvattnet i Bergkarlås och Östra Ryd.\n"
        f"{LINK}"
    )
    assert message.language == "sv"
    assert message.reference == "dlv-1"
    assert sms_info(message.body).encoding == GSM7


def test_compose_english_update_and_all_clear_prefixes():
    update = compose_sms(
        create_snapshot(msg_type="Update", revision=2), "en", link=LINK, reference="r"
    )
    assert update.body.startswith("UPDATE: Boil water in Bergkarlås\n")
    sv_update = compose_sms(
        create_snapshot(msg_type="Update", revision=2), "sv", link=LINK, reference="r"
    )
    assert sv_update.body.startswith("UPPDATERING: Koka vattnet i Bergkarlås\n")
    clear = create_snapshot(
        msg_type="Cancel",
        status="cancelled",
        texts={
            "sv": NoticeText("Vattnet går att dricka igen", "", "Spola kranen en stund."),
            "en": NoticeText("The water is safe to drink again", "", "Run the tap for a while."),
        },
    )
    assert compose_sms(clear, "sv", link=LINK, reference="r").body == (
        f"AVBLÅST: Vattnet går att dricka igen\nSpola kranen en stund.\n{LINK}"
    )
    assert compose_sms(clear, "en", link=LINK, reference="r").body.startswith(
        "ALL CLEAR: The water is safe to drink again\n"
    )


def test_compose_falls_back_to_swedish_for_unknown_language():
    message = compose_sms(create_snapshot(), "fi", link=LINK, reference="r")
    assert message.language == "sv"
    assert message.body.startswith("Koka vattnet i Bergkarlås\n")


def test_compose_straightens_typography_to_stay_gsm7():
    snapshot = create_snapshot(
        texts={
            "sv": NoticeText(
                headline="Koka vattnet – Bergkarlås",
                instruction="Koka ”allt” vatten…",
            )
        }
    )
    body = compose_sms(snapshot, "sv", link=LINK, reference="r").body
    assert body == f'Koka vattnet - Bergkarlås\nKoka "allt" vatten...\n{LINK}'
    assert sms_info(body).encoding == GSM7


def test_compose_truncates_description_not_link():
    long_description = " ".join(["Prover visar bakterier i dricksvattnet."] * 30)
    snapshot = create_snapshot(
        texts={
            "sv": NoticeText(
                headline="Koka vattnet i Bergkarlås",
                description=long_description,
                instruction="Koka vattnet i minst en minut.",
            )
        }
    )
    body = compose_sms(snapshot, "sv", link=LINK, reference="r").body
    info = sms_info(body)
    assert info.encoding == GSM7
    assert info.segments <= 3
    assert info.length_units > 400  # the room was used, not thrown away
    assert body.endswith("\n" + LINK)
    head, instruction, description, _ = body.split("\n")
    assert (head, instruction) == ("Koka vattnet i Bergkarlås", "Koka vattnet i minst en minut.")
    assert description.endswith("...")


def test_compose_keeps_the_promised_times_when_it_shortens_the_description():
    long_description = " ".join(["Prover visar bakterier i dricksvattnet."] * 30)
    sent = datetime(2026, 11, 24, 7, 15, tzinfo=UTC)  # 08:15 in Stockholm
    snapshot = create_snapshot(
        texts={
            "sv": NoticeText(headline="Koka vattnet", description=long_description),
            "en": NoticeText(headline="Boil water"),
        },
        sent=sent,
        next_update=sent + timedelta(hours=5, minutes=45),  # 14:00 the same day
        expected_restoration=sent + timedelta(days=1, hours=7, minutes=45),  # next day 16:00
    )
    body = compose_sms(snapshot, "sv", link=LINK, reference="r").body
    assert sms_info(body).segments <= 3
    head, promised, description, link = body.split("\n")
    assert head == "Koka vattnet"
    assert promised == "Nästa besked senast 14:00. Beräknat klart 25 nov 16:00"
    assert description.endswith("...") and link == LINK
    english = compose_sms(snapshot, "en", link=LINK, reference="r").body
    assert "\nNext update by 14:00. Expected restoration 25 Nov 16:00\n" in english


def test_compose_ucs2_keeps_within_three_parts_of_67():
    snapshot = create_snapshot(
        texts={
            "sv": NoticeText(
                headline="💧 Koka vattnet i Bergkarlås",
                description="Bakterier i dricksvattnet. " * 20,
                instruction="Koka vattnet i minst en minut.",
            )
        }
    )
    body = compose_sms(snapshot, "sv", link=LINK, reference="r").body
    info = sms_info(body)
    assert info.encoding == UCS2
    assert info.segments <= 3
    assert body.endswith(LINK)


def test_message_expires_with_notice():
    snapshot = create_snapshot()
    assert compose_sms(snapshot, "sv", link=LINK, reference="r").expires == snapshot.expires


# --- sending --------------------------------------------------------------------------


def test_accepted_with_sid_and_exact_request(fake_twilio):
    channel = create_channel(fake_twilio)
    expires = datetime.now(UTC) + timedelta(hours=2)
    message = compose_sms(create_snapshot(expires=expires), "sv", link=LINK, reference="dlv-42")

    result = channel.send(Recipient(RESIDENT), message)

    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_ref.startswith("SM") and len(result.provider_ref) == 34
    [got] = fake_twilio.messages
    assert got.sid == result.provider_ref
    assert got.to == RESIDENT
    assert got.from_ == "MotalaKommun"  # alphanumeric sender ID
    assert got.body == message.body
    assert "Koka vattnet i Bergkarlås" in got.body  # å arrives intact
    assert got.status_callback == f"{CALLBACK}?ref=dlv-42"
    assert 7190 <= int(got.validity_period) <= 7200
    assert got.messaging_service_sid is None


def test_validity_period_is_capped_at_twilio_maximum(fake_twilio):
    channel = create_channel(fake_twilio)
    far = datetime.now(UTC) + timedelta(days=3)
    assert channel.send(Recipient(RESIDENT), sms_message(expires=far)).ok
    assert fake_twilio.messages[0].validity_period == "36000"


def test_no_validity_period_without_expiry(fake_twilio):
    assert create_channel(fake_twilio).send(Recipient(RESIDENT), sms_message()).ok
    assert "ValidityPeriod" not in fake_twilio.messages[0].params


def test_expired_message_is_not_sent(fake_twilio):
    past = datetime.now(UTC) - timedelta(minutes=1)
    result = create_channel(fake_twilio).send(Recipient(RESIDENT), sms_message(expires=past))
    assert result.outcome is Outcome.FAILED
    assert result.error_code == "expired"
    assert fake_twilio.messages == []


def test_messaging_service_sid_without_from(fake_twilio):
    service = "MG" + "ab" * 16
    channel = create_channel(
        fake_twilio, from_number=None, messaging_service_sid=service, status_callback_url=None
    )
    assert channel.send(Recipient(RESIDENT), sms_message()).ok
    [got] = fake_twilio.messages
    assert got.messaging_service_sid == service
    assert got.from_ is None
    assert "StatusCallback" not in got.params


@pytest.mark.parametrize(
    ("fault", "outcome", "code"),
    [
        ("21211", Outcome.FAILED, "21211"),
        ("21614", Outcome.FAILED, "21614"),
        ("21408", Outcome.FAILED, "21408"),
        ("30005", Outcome.FAILED, "30005"),
        ("30006", Outcome.FAILED, "30006"),
        ("30003", Outcome.RETRY, "30003"),
        ("30008", Outcome.RETRY, "30008"),
        ("21610", Outcome.OPTED_OUT, "21610"),
        ("429", Outcome.RETRY, "20429"),
        ("500", Outcome.RETRY, "20500"),
    ],
)
def test_faults_map_to_outcomes(fake_twilio, fault, outcome, code):
    fake_twilio.faults[RESIDENT] = fault
    result = create_channel(fake_twilio).send(Recipient(RESIDENT), sms_message())
    assert result.outcome is outcome
    assert result.error_code == code
    assert result.provider_ref is None
    assert fake_twilio.messages == []


def test_rate_limit_honours_retry_after(fake_twilio):
    fake_twilio.faults[RESIDENT] = "429"
    fake_twilio.retry_after_s = 7
    result = create_channel(fake_twilio).send(Recipient(RESIDENT), sms_message())
    assert result.outcome is Outcome.RETRY
    assert result.retry_after_s == 7


def test_permanent_failure_does_not_stop_the_batch(fake_twilio):
    fake_twilio.faults["+46700000000"] = "21211"
    channel = create_channel(fake_twilio)
    outcomes = [
        channel.send(Recipient(n), sms_message()).outcome
        for n in ("+46700000001", "+46700000000", "+46700000002")
    ]
    assert outcomes == [Outcome.ACCEPTED, Outcome.FAILED, Outcome.ACCEPTED]
    assert [m.to for m in fake_twilio.messages] == ["+46700000001", "+46700000002"]


def test_timeout_is_retry(fake_twilio):
    fake_twilio.faults[RESIDENT] = "timeout"
    channel = create_channel(fake_twilio, timeout_s=0.3)
    result = channel.send(Recipient(RESIDENT), sms_message())
    assert result.outcome is Outcome.RETRY
    assert result.error_code == "timeout"
    assert result.duration_s < 2


def test_connection_refused_is_retry():
    with FakeTwilio() as fake:
        url, sid, token = fake.url, fake.account_sid, fake.auth_token
    channel = TwilioSms(sid, token, from_number="MotalaKommun", api_base_url=url, timeout_s=1)
    result = channel.send(Recipient(RESIDENT), sms_message())
    assert result.outcome is Outcome.RETRY
    assert result.error_code == "connection"


def test_wrong_credentials_are_retry_not_failed(fake_twilio):
    """A wrong auth token is our configuration, not the resident's number: the message is
    kept for retry (error 20003) and the dispatcher's attempt limit ends it if nobody fixes it.
    """
    channel = TwilioSms(
        fake_twilio.account_sid,
        "wrong-token",
        from_number="MotalaKommun",
        api_base_url=fake_twilio.url,
    )
    result = channel.send(Recipient(RESIDENT), sms_message())
    assert result.outcome is Outcome.RETRY
    assert result.error_code == "20003"
    assert fake_twilio.messages == []


def test_error_table_is_a_plain_dict():
    assert TWILIO_ERROR_OUTCOMES[21610] is Outcome.OPTED_OUT
    assert TWILIO_ERROR_OUTCOMES[21211] is Outcome.FAILED
    assert TWILIO_ERROR_OUTCOMES[20429] is Outcome.RETRY


def test_rebase_only_touches_twilio_hosts():
    client = RebasedTwilioHttpClient("http://127.0.0.1:8088")
    assert client.rebase("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1") == (
        "http://127.0.0.1:8088/2010-04-01/Accounts/AC1/Messages.json?x=1"
    )
    assert client.rebase("https://api.dublin.ie1.twilio.com/a") == "http://127.0.0.1:8088/a"
    assert client.rebase("https://example.com/a") == "https://example.com/a"
    assert RebasedTwilioHttpClient().rebase("https://api.twilio.com/a") == (
        "https://api.twilio.com/a"
    )


def test_parse_retry_after():
    assert parse_retry_after("12") == 12
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30


# --- delivery receipts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("twilio_status", "ours"),
    [
        ("queued", "accepted"),
        ("accepted", "accepted"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
    ],
)
def test_map_status_callback(twilio_status, ours):
    assert map_status_callback({"MessageStatus": twilio_status}) == (ours, None)


def test_map_status_callback_error_code_and_unknown_status():
    assert map_status_callback({"MessageStatus": "undelivered", "ErrorCode": "30003"}) == (
        "undelivered",
        "30003",
    )
    assert map_status_callback({"MessageStatus": "teleported"}) == (None, None)


def test_fake_sends_signed_status_callback(fake_twilio):
    """The fake signs receipts exactly as Twilio does; a receiver validates them with the SDK."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received["params"] = {
                k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()
            }
            received["signature"] = self.headers["X-Twilio-Signature"]
            received["path"] = self.path
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        callback = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/twilio/status"
        channel = create_channel(fake_twilio, status_callback_url=callback)
        sid = channel.send(Recipient(RESIDENT), sms_message(reference="dlv-7")).provider_ref
        status, _ = fake_twilio.send_status_callback(sid, "undelivered", 30003)
    finally:
        receiver.shutdown()
        receiver.server_close()

    assert status == 204
    params = received["params"]
    assert params["MessageSid"] == sid
    assert urlsplit(received["path"]).query == "ref=dlv-7"
    url = f"{callback}?ref=dlv-7"
    assert RequestValidator(fake_twilio.auth_token).validate(url, params, received["signature"])
    assert not RequestValidator("other-token").validate(url, params, received["signature"])
    assert map_status_callback(params) == ("undelivered", "30003")


# --- local outbox ---------------------------------------------------------------------


def test_local_outbox_sends_nothing_and_accepts():
    outbox = LocalOutbox("sms")
    result = outbox.send(Recipient(RESIDENT), sms_message(reference="dlv-9"))
    assert outbox.local_only is True
    assert outbox.name == "sms"
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_ref == "local-dlv-9"
    assert LocalOutbox("email").name == "email"


# --- what the app's webhooks and outcome recording use from the Twilio provider ---


def test_opt_out_and_receipt_codes_are_classified_in_one_place():
    assert TWILIO_OPT_OUT_CODE == 21610
    assert is_opt_out_error("21610") and is_opt_out_error(21610)
    assert not is_opt_out_error("30003") and not is_opt_out_error(None)
    assert {"30001", "30003", "30008", "30017"} == TRANSIENT_RECEIPT_ERROR_CODES
    assert is_transient_receipt_error("30003") and not is_transient_receipt_error("30005")
    assert receipt_error_outcome("21610") is Outcome.OPTED_OUT
    assert receipt_error_outcome("30008") is Outcome.RETRY
    assert receipt_error_outcome("30006") is Outcome.FAILED
    assert receipt_error_outcome("not a code") is Outcome.FAILED
    assert TWILIO_ERROR_OUTCOMES[TWILIO_OPT_OUT_CODE] is Outcome.OPTED_OUT


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "stop"),
        ("sluta.", "stop"),
        ("Stopp", "stop"),
        (" start please", "start"),
        ("Börja", "start"),
        ("hjälp!", "help"),
        ("Tack", None),
        ("", None),
    ],
)
def test_inbound_keyword(body, keyword):
    assert inbound_keyword(body) == keyword


def test_twiml_reply_escapes_text_and_may_say_nothing():
    reply = etree.fromstring(twiml_reply('Svara STOPP <nu> & "sen"').encode())
    assert reply.tag == "Response"
    assert reply.findtext("Message") == 'Svara STOPP <nu> & "sen"'
    assert len(etree.fromstring(twiml_reply(None).encode())) == 0


def test_signature_check_accepts_twilios_and_refuses_others():
    url = "https://varsla.motala.example/webhooks/twilio/inbound"
    params = {"From": RESIDENT, "Body": "STOP"}
    signature = RequestValidator("secret").compute_signature(url, params)
    assert is_valid_signature("secret", url, params, signature)
    assert not is_valid_signature("other", url, params, signature)
    assert not is_valid_signature("secret", url, {**params, "Body": "START"}, signature)
    assert not is_valid_signature("secret", url, params, None)
    assert not is_valid_signature("", url, params, signature)
