"""Email: what a resident's mailbox receives, sent through a real aiosmtpd server."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import dkim
import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.base import NoticeText, Outcome, Recipient
from channels.compose.email import compose_email
from channels.providers.smtp import SmtpEmail
from tests.channels.conftest import create_snapshot
from tests.fakes.smtp_server import FakeSmtp, self_signed_tls

MAIL_FROM = "varsla@motala.example"
RESIDENT = Recipient("anna.sjoberg@example.se", language="sv", name="Anna Sjöberg")
HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'


def email_message(snapshot=None, language="sv", *, recipient=RESIDENT, reference="dlv-1"):
    return compose_email(
        snapshot or create_snapshot(),
        language,
        recipient=recipient,
        reference=reference,
        list_id="bergkarlas.motala.varsla.example",
        manage_url="https://varsla.motala.example/subscriptions/tok123",
        unsubscribe_url="https://varsla.motala.example/subscriptions/tok123/end",
        one_click_url="https://varsla.motala.example/unsubscribe/tok123",
    )


def create_channel(server: FakeSmtp, **kwargs) -> SmtpEmail:
    return SmtpEmail.from_url(server.url, MAIL_FROM, timeout_s=5, **kwargs)


def parts(received):
    message = received.message
    # line endings are CRLF on the wire; a mail client shows line breaks either way
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    return message, plain, html


# --- composing ------------------------------------------------------------------------


def test_compose_subject_prefixes():
    assert email_message().subject == "Koka vattnet i Bergkarlås"
    update = email_message(create_snapshot(msg_type="Update", revision=2), "en")
    assert update.subject == "UPDATE: Boil water in Bergkarlås"
    clear = email_message(create_snapshot(msg_type="Cancel", status="cancelled"), "sv")
    assert clear.subject == "AVBLÅST: Koka vattnet i Bergkarlås"


def test_compose_headers():
    headers = email_message(reference="dlv-77").headers
    assert headers["Message-ID"] == "<dlv-77@motala.example>"
    assert headers["List-Id"] == "<bergkarlas.motala.varsla.example>"
    assert headers["List-Unsubscribe"] == "<https://varsla.motala.example/unsubscribe/tok123>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Auto-Submitted"] == "auto-generated"


def test_compose_optional_mailto_unsubscribe():
    message = compose_email(
        create_snapshot(),
        "sv",
        recipient=RESIDENT,
        reference="r",
        list_id="x.example",
        manage_url="https://m",
        unsubscribe_url="https://u",
        one_click_url="https://o",
        unsubscribe_mailto="unsubscribe+tok@motala.example",
    )
    assert message.headers["List-Unsubscribe"] == (
        "<https://o>, <mailto:unsubscribe+tok@motala.example>"
    )


def test_compose_english_html_is_lang_en():
    message = email_message(language="en")
    assert '<html lang="en">' in message.html
    assert "<h2>What to do</h2>" in message.html


# --- sending --------------------------------------------------------------------------


def test_resident_receives_multipart_plain_and_html(fake_smtp):
    channel = create_channel(fake_smtp)
    message = email_message(reference="dlv-5")
    result = channel.send(RESIDENT, message)
    channel.close()

    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_ref == "<dlv-5@motala.example>"
    [received] = fake_smtp.received
    assert received.mail_from == MAIL_FROM
    assert received.rcpt_tos == [RESIDENT.address]
    mail, plain, html = parts(received)
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["Subject"] == "Koka vattnet i Bergkarlås"
    assert mail["From"] == MAIL_FROM
    assert mail["To"] == "Anna Sjöberg <anna.sjoberg@example.se>"
    assert mail["Message-ID"] == "<dlv-5@motala.example>"
    assert mail["List-Id"] == "<bergkarlas.motala.varsla.example>"
    assert mail["List-Unsubscribe"] == "<https://varsla.motala.example/unsubscribe/tok123>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Auto-Submitted"] == "auto-generated"

    assert plain.startswith(
        "Koka vattnet i Bergkarlås\n\n"
        "Prover visar bakterier i dricksvattnet i Bergkarlås och Östra Ryd."
    )
    assert "Vad du ska göra:\nKoka vatten till dryck och matlagning i minst en minut." in plain
    assert "Område: Bergkarlås, Motala" in plain
    assert "Läs mer: https://varsla.motala.example/notices/" in plain
    assert (
        "Avsluta prenumerationen: https://varsla.motala.example/subscriptions/tok123/end"
    ) in plain
    assert "anna.sjoberg@example.se" in plain

    assert '<html lang="sv">' in html
    assert "<h1>Koka vattnet i Bergkarlås</h1>" in html
    assert "<h2>Vad du ska göra</h2>" in html
    assert "<img" not in html
    assert '<a href="https://varsla.motala.example/subscriptions/tok123/end">' in html


def test_script_in_headline_is_text(fake_smtp):
    snapshot = create_snapshot(
        texts={
            "sv": NoticeText(
                headline=HOSTILE, description="Beskrivning <b>fet</b>", instruction="Gör & så"
            )
        }
    )
    channel = create_channel(fake_smtp)
    assert channel.send(RESIDENT, email_message(snapshot)).ok
    channel.close()
    mail, plain, html = parts(fake_smtp.received[0])

    assert HOSTILE in plain
    assert mail["Subject"] == HOSTILE
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "<b>" not in html
    # A reader sees the hostile text as text, exactly, wherever it is shown; which
    # character reference spells a quote (&quot; or &#34;) is the escaper's business.
    document = lxml.html.document_fromstring(html)
    assert not document.xpath("//script|//img|//b")
    assert document.xpath("string(//title)") == HOSTILE
    assert document.xpath("string(//h1)") == HOSTILE
    assert document.xpath("string(//p[contains(., 'Beskrivning')])") == "Beskrivning <b>fet</b>"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Gör &amp; så" in html


def test_awkward_text_arrives_exactly_as_written(fake_smtp):
    """Long lines, "=" and "=_", a lone dot, trailing spaces and non-Latin script survive
    the encoding (quoted-printable) and SMTP's dot-stuffing, in both parts."""
    description = "\n".join(
        [
            "Läs " + "mycket lång rad med å, ä och ö " * 8,
            "a=b och =_ och =3D stå kvar",
            ".",
            "slutar med mellanslag   ",
            "Кипятите воду · 水を沸かしてください",
        ]
    )
    snapshot = create_snapshot(
        texts={"sv": NoticeText(headline="Kokning = säkert", description=description)}
    )
    channel = create_channel(fake_smtp)
    for n in range(2):  # the second one's shared headers come from the cache
        assert channel.send(RESIDENT, email_message(snapshot, reference=f"d{n}")).ok
    channel.close()
    for n, received in enumerate(fake_smtp.received):
        mail, plain, html = parts(received)
        assert mail["Subject"] == "Kokning = säkert"
        assert mail["Message-ID"] == f"<d{n}@motala.example>"
        assert mail["To"] == "Anna Sjöberg <anna.sjoberg@example.se>"
        assert description in plain
        document = lxml.html.document_fromstring(html)
        assert "a=b och =_ och =3D stå kvar" in document.text_content()
        assert "水を沸かしてください" in document.text_content()


def test_one_connection_for_a_batch(fake_smtp):
    channel = create_channel(fake_smtp)
    for n in range(5):
        assert channel.send(Recipient(f"r{n}@example.se"), email_message(reference=f"d{n}")).ok
    channel.close()
    assert len(fake_smtp.received) == 5
    assert fake_smtp.session_count == 1
    assert channel.connections_opened == 1


def test_reconnects_when_the_server_dropped_the_connection(fake_smtp):
    channel = create_channel(fake_smtp)
    assert channel.send(Recipient("a@example.se"), email_message(reference="d1")).ok
    fake_smtp.drop_connections()
    assert channel.send(Recipient("b@example.se"), email_message(reference="d2")).ok
    channel.close()
    assert [r.rcpt_tos for r in fake_smtp.received] == [["a@example.se"], ["b@example.se"]]
    assert fake_smtp.session_count == 2


def test_550_is_failed_and_451_is_retry_and_the_batch_goes_on():
    replies = {
        "gone@example.se": "550 5.1.1 No such user",
        "busy@example.se": "451 4.3.0 Try again later",
    }
    with FakeSmtp(replies=replies) as server:
        channel = create_channel(server)
        gone = channel.send(Recipient("gone@example.se"), email_message())
        busy = channel.send(Recipient("busy@example.se"), email_message())
        fine = channel.send(Recipient("fine@example.se"), email_message())
        channel.close()
        assert [r.rcpt_tos for r in server.received] == [["fine@example.se"]]
        assert server.session_count == 1
    assert (gone.outcome, gone.error_code) == (Outcome.FAILED, "550")
    assert "No such user" in gone.error
    assert (busy.outcome, busy.error_code) == (Outcome.RETRY, "451")
    assert fine.ok


def test_data_rejected_permanently_is_failed():
    with FakeSmtp(data_reply="554 5.6.0 Message rejected") as server:
        channel = create_channel(server)
        result = channel.send(RESIDENT, email_message())
        channel.close()
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "554")


def test_auth_works_and_wrong_password_is_retry():
    with FakeSmtp(users={"varsla": "hemligt l:sen"}) as server:
        url = f"smtp://varsla:hemligt%20l%3Asen@{server.host}:{server.port}"
        channel = SmtpEmail.from_url(url, MAIL_FROM, timeout_s=5)
        assert channel.send(RESIDENT, email_message()).ok
        channel.close()
        assert server.received[0].authenticated_as == "varsla"

        wrong = SmtpEmail.from_url(f"smtp://varsla:fel@{server.host}:{server.port}", MAIL_FROM)
        result = wrong.send(RESIDENT, email_message())
        assert (result.outcome, result.error_code) == (Outcome.RETRY, "535")

        anonymous = create_channel(server)
        result = anonymous.send(RESIDENT, email_message())
        assert result.outcome is Outcome.RETRY  # 530 authentication required: our config
        assert len(server.received) == 1


def test_non_ascii_password_is_refused_up_front():
    with pytest.raises(ValueError, match="ASCII"):
        SmtpEmail.from_url("smtp://varsla:l%C3%B6sen@mail.example", MAIL_FROM)


def test_connection_refused_is_retry():
    with FakeSmtp() as server:
        url = server.url
    result = SmtpEmail.from_url(url, MAIL_FROM, timeout_s=2).send(RESIDENT, email_message())
    assert result.outcome is Outcome.RETRY


def test_from_url_parsing():
    plain = SmtpEmail.from_url("smtp://mail.example:2525", MAIL_FROM)
    assert (plain.host, plain.port, plain.security, plain.username) == (
        "mail.example",
        2525,
        "plain",
        None,
    )
    tls = SmtpEmail.from_url("smtps://u%40x:p%3Aw@mail.example", MAIL_FROM)
    assert (tls.port, tls.security, tls.username, tls.password) == (465, "ssl", "u@x", "p:w")
    starttls = SmtpEmail.from_url("smtp://mail.example?starttls=1", MAIL_FROM)
    assert (starttls.port, starttls.security) == (587, "starttls")
    with pytest.raises(ValueError):
        SmtpEmail.from_url("http://mail.example", MAIL_FROM)


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not found")


@needs_openssl
def test_starttls_and_implicit_tls(tmp_path):
    server_ctx, client_ctx = self_signed_tls(tmp_path)
    with FakeSmtp(starttls_context=server_ctx, require_starttls=True) as server:
        channel = SmtpEmail.from_url(
            f"smtp://{server.host}:{server.port}?starttls=1", MAIL_FROM, ssl_context=client_ctx
        )
        assert channel.send(RESIDENT, email_message()).ok
        channel.close()
        assert len(server.received) == 1
    with FakeSmtp(implicit_tls_context=server_ctx) as server:
        channel = SmtpEmail.from_url(
            f"smtps://{server.host}:{server.port}", MAIL_FROM, ssl_context=client_ctx
        )
        assert channel.send(RESIDENT, email_message()).ok
        channel.close()
        assert len(server.received) == 1


@needs_openssl
def test_dkim_signature_verifies(tmp_path, fake_smtp):
    key_path = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(key_path), "2048"], check=True, capture_output=True
    )
    public_der = subprocess.run(
        ["openssl", "rsa", "-in", str(key_path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    dns_record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)

    channel = create_channel(
        fake_smtp,
        dkim_selector="varsla2026",
        dkim_domain="motala.example",
        dkim_private_key=key_path.read_bytes(),
    )
    snapshot = create_snapshot(
        texts={
            "sv": NoticeText(
                headline="Koka vattnet i Bergkarlås – Östra Ryd", description="Åtgärd pågår."
            )
        }
    )
    assert channel.send(RESIDENT, email_message(snapshot)).ok
    channel.close()

    raw = fake_smtp.received[0].raw

    def dns(name, timeout=5):
        assert name == b"varsla2026._domainkey.motala.example."
        return dns_record

    assert dkim.verify(raw, dnsfunc=dns)
    signed = re.search(rb"h=([^;]+);", raw.replace(b"\r\n", b"").replace(b" ", b"")).group(1)
    assert b"list-unsubscribe-post" in signed.lower()
    tampered = raw.replace(b"Bergkarl", b"Bergkarr", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


# --- one revision, many recipients ----------------------------------------------------


def test_each_recipient_of_a_revision_gets_their_own_address_and_links():
    """The dispatcher renders a revision's email once per language and fills in each
    recipient: nobody may get another resident's address or links, and an address with
    markup characters is escaped in the HTML as anywhere else."""
    from alerts.dispatch.messages import Composer, Links, read_unsubscribe_token
    from alerts.residents.tokens import read_manage_token

    composer = Composer(Links("https://varsla.motala.example", "test-secret"))
    snapshot = create_snapshot()
    residents = {
        11: Recipient("anna.sjoberg@example.se", language="sv"),
        12: Recipient("o'brien&co@example.se", language="sv"),
        13: Recipient("erik@example.se", language="en"),
    }
    mails = {
        subscriber_id: composer.compose(
            snapshot,
            "email",
            address=recipient.address,
            language=recipient.language,
            subscriber_id=subscriber_id,
            reference=f"{subscriber_id}.1",
            manage_version=2,
        )[1]
        for subscriber_id, recipient in residents.items()
    }
    for subscriber_id, mail in mails.items():
        address = residents[subscriber_id].address
        others = [r.address for i, r in residents.items() if i != subscriber_id]
        assert "\x00" not in mail.body + mail.html + "".join(mail.headers.values())
        assert address in mail.body
        assert not any(other in mail.body for other in others)
        html = lxml.html.fromstring(mail.html)
        assert address in html.text_content()
        links = [a.get("href") for a in html.iter("a")]
        manage = next(link for link in links if "/subscriptions/" in link)
        assert read_manage_token("test-secret", manage.rsplit("/", 1)[1]) == (subscriber_id, 2)
        assert manage in mail.body
        unsubscribe = mail.headers["List-Unsubscribe"].strip("<>")
        assert unsubscribe in links and unsubscribe in mail.body
        token = unsubscribe.rsplit("/", 1)[1]
        assert read_unsubscribe_token("test-secret", token) == (subscriber_id, "email")
        assert mail.headers["Message-ID"] == f"<{subscriber_id}.1@varsla.motala.example>"
    assert "o&#39;brien&amp;co@example.se" in mails[12].html
    assert mails[13].subject == "Boil water in Bergkarlås"
    assert mails[11].subject == "Koka vattnet i Bergkarlås"


def test_one_click_unsubscribe_is_a_link_on_the_wire(fake_smtp):
    """Mail providers read List-Unsubscribe from the raw header. A real link (host and a
    signed token) is longer than a line: it must stay ``<https://...>``, never become an
    RFC 2047 encoded-word, which no provider reads as a link."""
    one_click = "https://varsla.motala.example/u/WzEyMzQ1Njc4LCJlbWFpbCJd.q1w2e3r4t5y6u7i8o9p0a"
    message = compose_email(
        create_snapshot(),
        "sv",
        recipient=RESIDENT,
        reference="77.1",
        list_id="bergkarlas.motala.varsla.example",
        manage_url="https://varsla.motala.example/subscriptions/tok",
        unsubscribe_url=one_click,
        one_click_url=one_click,
        unsubscribe_mailto="avregistrera@motala.example",
    )
    channel = create_channel(fake_smtp)
    assert channel.send(Recipient("a.b+c@example.se"), message).outcome is Outcome.ACCEPTED
    channel.close()
    [received] = fake_smtp.received
    head = received.raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", head).decode("ascii")
    fields = dict(line.split(": ", 1) for line in unfolded.split("\r\n"))
    assert fields["List-Unsubscribe"] == (f"<{one_click}>, <mailto:avregistrera@motala.example>")
    assert fields["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert fields["To"] == "a.b+c@example.se"
    assert fields["Message-ID"] == "<77.1@motala.example>"


@given(
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,40}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True
    )
)
def test_a_plain_address_is_written_as_the_email_package_would(address):
    """The To line of a plain address skips the email package's parser (most of an
    email's header cost); the line must be the one the parser would have written."""
    import email.policy

    channel = SmtpEmail.from_url("smtp://127.0.0.1:25", MAIL_FROM)
    expected = email.policy.SMTP.header_factory("To", address).fold(policy=email.policy.SMTP)
    assert channel._folded("To", address, email.policy.SMTP) == expected.encode("ascii")
