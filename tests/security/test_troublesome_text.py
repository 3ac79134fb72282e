"""A notice with every kind of troublesome text: refused naming the field, or published with
every feed, CAP document, page, banner and email still valid and showing it as text.

Before, one vertical tab in a headline made every feed and the CAP index answer 500.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from pathlib import Path

import feedparser
import lxml.html
import pytest
from lxml import etree
from sqlalchemy import func, select

from alerts.models import Notice
from alerts.notices.operations import approve_notice, publish_notice
from channels.cap import CAP_NS
from tests.delivery import create_subscriber, run_dispatcher
from tests.factories import api_headers, notice_payload

XSD = Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd"

SCRIPT = "<script>alert(1)</script>"
SQL = "'; DROP TABLE notices; --"
FORMULA = "=cmd|' /C calc'!A0"
EMOJI = "💧🚱👩‍👩‍👧"
RTL_WORDS = "ماء مغلي"  # Arabic is text, not a control
DECOMPOSED = "Bergkarla\u030as"  # "Bergkarlås" with a combining ring: stored as NFC
ACCEPTED = {
    "headline": f"{EMOJI} {SCRIPT} {SQL}",
    "description": f'{FORMULA}\n{RTL_WORDS}\n{DECOMPOSED}\n"quoted" & <b>bold</b>',
    "instruction": f"+SUM(A1:A9) @{SQL} -{FORMULA}",
}


def _texts(**sv: str) -> dict:
    return {"sv": {"headline": "Koka vattnet", **sv}}


REFUSED = [
    ("C0 control (vertical tab)", _texts(headline="Koka\x0bvattnet"), 422, "texts.sv.headline"),
    ("escape sequence", _texts(description="a\x1b[2Jb"), 422, "texts.sv.description"),
    ("unpaired surrogate", _texts(instruction="a\ud83db"), 422, "texts.sv.instruction"),
    ("non-character", _texts(headline="Koka\uffffvattnet"), 422, "texts.sv.headline"),
    ("right-to-left override", _texts(headline="Koka \u202evattnet"), 422, "texts.sv.headline"),
    ("isolate", _texts(description="a\u2066b\u2069"), 422, "texts.sv.description"),
    ("NUL", _texts(description="a\x00b"), 400, "texts.sv.description"),
    ("10 MB", _texts(description="x" * 10_000_000), 413, None),
    ("too long after NFC", _texts(headline="Koka " * 40), 422, "texts.sv.headline"),
]


@pytest.fixture
def keys(desk, db_session) -> dict[str, dict[str, str]]:
    keys = {"author": api_headers(db_session, desk.author)}
    db_session.commit()
    return keys


@pytest.mark.parametrize(("case", "texts", "status", "field"), REFUSED, ids=[c[0] for c in REFUSED])
def test_troublesome_text_is_refused_naming_the_field(
    dispatch_app, db_session, keys, case, texts, status, field
):
    # json.dumps writes a lone surrogate as the escape "\ud83d", as a careless client would.
    body = json.dumps(notice_payload(texts=texts)).encode()
    response = dispatch_app.test_client().post(
        "/api/v1/notices",
        data=body,
        headers={**keys["author"], "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    if field is not None:
        assert field in [e["field"] for e in response.get_json()["errors"]]
    assert db_session.scalar(select(func.count()).select_from(Notice)) == 0


def _inert_html(document: bytes | str) -> str:
    """The text of an HTML document, after checking no script or markup came from the notice."""
    tree = lxml.html.fromstring(document)
    for script in tree.iter("script"):
        if script.get("type") == "application/json":  # data: inert while "<" stays escaped
            json.loads(script.text or "null")
            assert "<" not in (script.text or ""), "data could close its script element"
        else:
            assert "alert(1)" not in (script.text or ""), "the headline became a script"
    assert not tree.xpath("//b[normalize-space()='bold']"), "the description became markup"
    return tree.text_content()


def test_troublesome_text_that_is_accepted_is_text_everywhere(
    dispatch_app, db_session, desk, keys, fake_smtp
):
    create_subscriber(db_session, email="anna@example.se", language="sv")
    db_session.commit()
    client = dispatch_app.test_client()
    created = client.post(
        "/api/v1/notices",
        json=notice_payload(texts={"sv": ACCEPTED}, channels=["email", "feed", "banner"]),
        headers=keys["author"],
    )
    assert created.status_code == 201, created.get_json()
    notice_id = created.get_json()["id"]
    assert (
        client.post(f"/api/v1/notices/{notice_id}/submit", headers=keys["author"]).status_code
        == 200
    )
    notice = db_session.get(Notice, uuid.UUID(notice_id))
    approve_notice(db_session, notice, by=desk.approver)
    publish_notice(db_session, notice, by=desk.approver)
    db_session.commit()
    assert run_dispatcher(dispatch_app, concurrency=1)["accepted"] == 1

    headline = ACCEPTED["headline"]
    description = unicodedata.normalize("NFC", ACCEPTED["description"])
    assert "Bergkarlås" in description

    stored = client.get(f"/api/v1/notices/{notice_id}", headers=keys["author"]).get_json()
    assert json.dumps(stored, ensure_ascii=False).count("Bergkarlås") >= 1

    for path in (
        "/feeds/notices.rss",
        "/feeds/notices.atom",
        "/feeds/zones/gesunda.rss",
        "/feeds/zones/gesunda.atom",
        "/feeds/cap.atom",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        etree.fromstring(response.data)  # well-formed XML
        assert SCRIPT.encode() not in response.data, path
        parsed = feedparser.parse(response.data)
        assert not parsed.bozo, (path, parsed.bozo_exception)
        assert parsed.entries[0].title == headline, path

    cap = client.get(f"/cap/{notice_id}.xml")
    assert cap.status_code == 200
    document = etree.fromstring(cap.data)
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(document), schema.error_log
    info = f"{{{CAP_NS}}}info/"
    assert document.findtext(info + f"{{{CAP_NS}}}headline") == headline
    assert document.findtext(info + f"{{{CAP_NS}}}description") == description
    assert document.findtext(info + f"{{{CAP_NS}}}instruction") == ACCEPTED["instruction"]

    page = client.get(f"/notices/{notice_id}")
    assert page.status_code == 200
    text = _inert_html(page.data)
    assert headline in text and FORMULA in text and RTL_WORDS in text

    banner = client.get("/banner?zone=gesunda")
    assert banner.status_code == 200
    assert headline in _inert_html(banner.data)
    active = client.get("/api/v1/active?zone=gesunda")
    assert b"<" not in active.data
    assert active.get_json()["items"][0]["headline"] == headline

    (mail,) = [m.message for m in fake_smtp.received if m.rcpt_tos == ["anna@example.se"]]
    assert mail["Subject"] == headline
    plain = mail.get_body(("plain",)).get_content()
    assert headline in plain and FORMULA in plain
    html = mail.get_body(("html",)).get_content()
    assert headline in _inert_html(html)
    # The approver's "waiting for you" email, sent when the API's submit committed.
    (told,) = [m.message for m in fake_smtp.received if m.rcpt_tos != ["anna@example.se"]]
    assert told["Subject"].endswith(headline)
    assert told.get_content_type() == "text/plain" and headline in told.get_content()
