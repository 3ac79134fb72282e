"""Sending from an event loop: the Twilio SDK's asyncio client, and SMTP connections on
threads of their own, against the fakes.

The same request and the same outcomes as the synchronous ``send`` (tests in
test_sms.py and test_email.py), many at once, over a bounded set of reused
connections.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.base import Message, Outcome, Recipient
from channels.providers.smtp import SmtpEmail
from channels.providers.twilio import TwilioSms, form_encoded
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_server import FakeTwilio

CALLBACK = "https://varsla.motala.example/webhooks/twilio/status"
RESIDENT = "+46701234567"


def sms_channel(fake: FakeTwilio, **overrides) -> TwilioSms:
    kwargs = {
        "from_number": "MotalaKommun",
        "status_callback_url": CALLBACK,
        "api_base_url": fake.url,
        "timeout_s": 2,
    } | overrides
    return TwilioSms(fake.account_sid, fake.auth_token, **kwargs)


def send_all(channel, recipients: list[Recipient], messages: list[Message], limit: int = 100):
    """Send each message on one event loop, at most ``limit`` at once; the results."""

    async def run():
        slots = asyncio.Semaphore(limit)

        async def one(recipient, message):
            async with slots:
                return await channel.send_async(recipient, message)

        try:
            return await asyncio.gather(*map(one, recipients, messages))
        finally:
            await channel.close_async()

    return asyncio.run(run())


def test_sms_goes_out_through_create_async_as_the_sync_send_does(fake_twilio):
    expires = datetime.now(UTC) + timedelta(hours=2)
    message = Message("Koka vattnet i Bergkarlås", reference="dlv-42", expires=expires)

    [result] = send_all(sms_channel(fake_twilio), [Recipient(RESIDENT)], [message])

    assert result.outcome is Outcome.ACCEPTED
    [got] = fake_twilio.messages
    assert got.sid == result.provider_ref
    assert (got.to, got.from_, got.body) == (RESIDENT, "MotalaKommun", message.body)
    assert got.status_callback == f"{CALLBACK}?ref=dlv-42"
    assert 7190 <= int(got.validity_period) <= 7200


@pytest.mark.parametrize(
    ("fault", "outcome", "code"),
    [
        ("21211", Outcome.FAILED, "21211"),
        ("21614", Outcome.FAILED, "21614"),
        ("30003", Outcome.RETRY, "30003"),
        ("21610", Outcome.OPTED_OUT, "21610"),
        ("429", Outcome.RETRY, "20429"),
        ("500", Outcome.RETRY, "20500"),
    ],
)
def test_sms_faults_map_to_the_same_outcomes(fake_twilio, fault, outcome, code):
    fake_twilio.faults[RESIDENT] = fault
    fake_twilio.retry_after_s = 7
    channel = sms_channel(fake_twilio)
    sync = channel.send(Recipient(RESIDENT), Message("Hej", reference="a"))
    [result] = send_all(channel, [Recipient(RESIDENT)], [Message("Hej", reference="b")])
    assert (result.outcome, result.error_code) == (outcome, code) == (sync.outcome, sync.error_code)
    assert result.retry_after_s == sync.retry_after_s == (7 if fault == "429" else None)
    assert fake_twilio.messages == []


def test_sms_timeout_and_refused_connection_are_retry(fake_twilio):
    fake_twilio.faults[RESIDENT] = "timeout"
    [slow] = send_all(
        sms_channel(fake_twilio, timeout_s=0.3), [Recipient(RESIDENT)], [Message("Hej")]
    )
    assert (slow.outcome, slow.error_code) == (Outcome.RETRY, "timeout")
    assert slow.duration_s < 2
    with FakeTwilio() as gone:
        url = gone.url
    [refused] = send_all(
        sms_channel(fake_twilio, api_base_url=url), [Recipient(RESIDENT)], [Message("Hej")]
    )
    assert (refused.outcome, refused.error_code) == (Outcome.RETRY, "connection")


def test_many_sms_at_once_over_a_bounded_pool(fake_twilio):
    fake_twilio.latency_s = 0.2
    phones = [f"+4670100{n:04d}" for n in range(120)]
    results = send_all(
        sms_channel(fake_twilio, pool_maxsize=20),
        [Recipient(p) for p in phones],
        [Message(f"Hej {n}", reference=f"d{n}") for n in range(120)],
    )
    assert all(r.ok for r in results)
    assert Counter(m.to for m in fake_twilio.messages) == Counter(phones)
    assert 1 < fake_twilio.max_in_flight <= 20  # in parallel; the pool is the bound


def test_one_text_to_many_residents_each_with_their_own_number_and_receipt_link(fake_twilio):
    # The form body's quoting is remembered across requests (the same text for every
    # recipient of a revision): nothing of one request may leak into the next.
    text = "Koka vattnet i Bergkarlås & Västra Lund: 100 % säkert? Svara STOPP"
    phones = [f"+4670200{n:04d}" for n in range(300)]
    results = send_all(
        sms_channel(fake_twilio),
        [Recipient(p) for p in phones],
        [Message(text, reference=f"{n}.1") for n in range(300)],
        limit=50,
    )
    assert all(r.ok for r in results)
    got = {m.to: m for m in fake_twilio.messages}
    assert sorted(got) == sorted(phones)
    for n, phone in enumerate(phones):
        assert got[phone].body == text
        assert got[phone].status_callback == f"{CALLBACK}?ref={n}.1"


@given(
    st.dictionaries(
        st.text(max_size=20),
        st.one_of(
            st.text(max_size=200),
            st.integers(),
            st.lists(st.text(max_size=30), max_size=3),
        ),
        max_size=6,
    )
)
def test_form_body_is_what_urlencode_writes(data):
    assert form_encoded(data) == urlencode(data, doseq=True).encode("utf-8")
    assert form_encoded(data) == urlencode(data, doseq=True).encode("utf-8")  # remembered


def email_channel(server: FakeSmtp, **kwargs) -> SmtpEmail:
    return SmtpEmail.from_url(server.url, "varsla@motala.example", **kwargs)


def test_email_reuses_its_connections_and_sends_in_parallel():
    with FakeSmtp(latency_s=0.02) as server:
        addresses = [f"boende{n}@example.se" for n in range(30)]
        results = send_all(
            email_channel(server, connections=3),
            [Recipient(a) for a in addresses],
            [Message("Koka vattnet", subject="Bergkarlås", reference=f"d{n}") for n in range(30)],
        )
        assert all(r.ok for r in results)
        received = server.received
        assert sorted(m.rcpt_tos[0] for m in received) == sorted(addresses)
        assert server.session_count == 3  # 30 messages, 3 connections, all used
        assert received[0].message["Subject"] == "Bergkarlås"


def test_email_refusals_map_as_the_sync_send_does():
    replies = {"gone@example.se": "550 5.1.1 No such user", "busy@example.se": "451 4.3.0 Later"}
    with FakeSmtp(replies=replies) as server:
        addresses = ["gone@example.se", "busy@example.se", "ok@example.se"]
        results = send_all(
            email_channel(server, connections=1),
            [Recipient(a) for a in addresses],
            [Message("Hej", subject="Hej", reference=f"d{n}") for n in range(3)],
        )
        assert [(r.outcome, r.error_code) for r in results] == [
            (Outcome.FAILED, "550"),
            (Outcome.RETRY, "451"),
            (Outcome.ACCEPTED, None),
        ]
        assert [m.rcpt_tos for m in server.received] == [["ok@example.se"]]
        assert server.session_count == 1  # a refusal does not cost the connection


def test_email_with_authentication_and_a_wrong_password():
    with FakeSmtp(users={"varsla": "hemligt"}) as server:
        url = f"smtp://varsla:hemligt@{server.host}:{server.port}"
        good = SmtpEmail.from_url(url, "varsla@motala.example")
        [ok] = send_all(
            good, [Recipient("a@example.se")], [Message("Hej", subject="Hej", reference="d1")]
        )
        assert ok.ok and server.received[0].authenticated_as == "varsla"
        bad = SmtpEmail.from_url(url.replace("hemligt", "fel"), "varsla@motala.example")
        [refused] = send_all(
            bad, [Recipient("b@example.se")], [Message("Hej", subject="Hej", reference="d1")]
        )
        assert (refused.outcome, refused.error_code) == (Outcome.RETRY, "535")
        assert len(server.received) == 1


def test_email_connection_dropped_between_messages_reconnects_and_loses_nothing():
    with FakeSmtp() as server:
        channel = email_channel(server, connections=2)

        async def run():
            first = await asyncio.gather(
                *(
                    channel.send_async(
                        Recipient(f"a{n}@example.se"), Message("Hej", reference=f"a{n}")
                    )
                    for n in range(4)
                )
            )
            server.drop_connections()
            await asyncio.sleep(0.1)
            second = await asyncio.gather(
                *(
                    channel.send_async(
                        Recipient(f"b{n}@example.se"), Message("Hej", reference=f"b{n}")
                    )
                    for n in range(4)
                )
            )
            await channel.close_async()
            return first + second

        results = asyncio.run(run())
        assert all(r.ok for r in results)
        assert len(server.received) == 8
        assert server.session_count == 4  # two before the drop, two after


def test_email_a_message_that_cannot_be_rendered_fails_alone_and_keeps_the_connection():
    with FakeSmtp() as server:
        channel = email_channel(server, connections=1)
        render = channel.render

        def broken(recipient, message, smtputf8):
            if message.reference == "bad":
                raise ValueError("cannot render")
            return render(recipient, message, smtputf8)

        channel.render = broken
        results = send_all(
            channel,
            [Recipient(f"{n}@example.se") for n in ("a", "b", "c")],
            [Message("Hej", reference=ref) for ref in ("ok1", "bad", "ok2")],
            limit=1,
        )
        assert [(r.outcome, r.error_code) for r in results] == [
            (Outcome.ACCEPTED, None),
            (Outcome.RETRY, "exception"),
            (Outcome.ACCEPTED, None),
        ]
        assert sorted(m.rcpt_tos[0] for m in server.received) == ["a@example.se", "c@example.se"]
        assert server.session_count == 1  # the connection went back to the pool
