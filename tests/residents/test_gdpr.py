"""Data rights: export holds everything held; deletion leaves neither the phone number nor
the email anywhere (every table, the local outbox); nothing personal is logged at INFO."""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import select

from alerts.models import Base, Erasure, OutboxMessage
from tests.conftest import running_app
from tests.delivery import run_dispatcher
from tests.residents.conftest import HOME, ORG

PHONE = "+46701740605"
EMAIL = "åsa@bergkarlås.se"


@pytest.fixture
def dispatch_app(database_url, tmp_path):
    """No provider configured: codes, links and notices all land in the local outbox."""
    config = {"VARSLA_SMS_RATE": 0.0, "VARSLA_EMAIL_RATE": 0.0, **ORG}
    with running_app(database_url, tmp_path, **config) as app:
        yield app


def outbox(db_session, channel: str, recipient: str) -> list[OutboxMessage]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == channel, OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id)
        )
    )


def every_value(db_session) -> list[tuple[str, str]]:
    """(table, value) for every column value of every row of every table."""
    found = []
    for table in Base.metadata.sorted_tables:
        for row in db_session.execute(select(table)).all():
            found.extend((table.name, str(value)) for value in row if value is not None)
    return found


def test_export_holds_everything_and_deletion_leaves_no_trace(
    dispatch_app, db_session, register, desk, caplog
):
    caplog.set_level(logging.INFO)
    client = dispatch_app.test_client()
    page = client.post(
        "/subscribe",
        data={"address": HOME, "phone": "070-174 06 05", "email": "Åsa@Bergkarlås.se",
              "language": "sv", "categories": ["water", "roads"]},
    )  # fmt: skip
    assert page.status_code == 303, page.get_data(as_text=True)
    verify_page = page.headers["Location"]
    [code_sms] = outbox(db_session, "sms", PHONE)
    code = re.search(r"\b(\d{6})\b", code_sms.body).group(1)
    active = client.post(verify_page, data={"code": code})
    assert active.status_code == 200
    manage = re.search(
        r'href="(http://varsla.test/subscriptions/[^"]+)"', active.get_data(as_text=True)
    )
    manage_path = manage.group(1).removeprefix("http://varsla.test")
    [mail] = outbox(db_session, "email", EMAIL)
    confirm = re.search(r"http://varsla.test(/subscriptions/confirm/\S+)", mail.body).group(1)
    assert client.post(confirm).status_code == 200

    desk.publish()
    run_dispatcher(dispatch_app)
    assert len(outbox(db_session, "sms", PHONE)) == 2  # the code, the notice
    assert len(outbox(db_session, "email", EMAIL)) == 2  # the link, the notice

    exported = client.get(manage_path + "/export.json")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    data = json.loads(exported.get_data(as_text=True))
    assert data["subscriber"]["phone"] == PHONE and data["subscriber"]["email"] == EMAIL
    assert data["subscriber"]["categories"] == ["water", "roads"]
    assert data["subscriber"]["legal_basis"] == "consent"
    assert [a["address"] for a in data["addresses"]] == [HOME]
    [consent] = data["consents"]
    assert consent["action"] == "given" and consent["source"] == "web" and consent["text_version"]
    assert sorted(d["channel"] for d in data["deliveries"]) == ["email", "sms"]
    assert len(data["unsent_copies"]) == 4

    confirm_page = client.get(manage_path + "/delete")
    assert "Radera allt" in confirm_page.get_data(as_text=True)
    assert client.post(manage_path + "/delete").status_code == 200
    assert client.get(manage_path).status_code == 404

    db_session.expire_all()
    national = "0701740605"
    leftovers = [
        (table, value)
        for table, value in every_value(db_session)
        if "701740605" in value
        or national in value
        or EMAIL in value.lower()
        or "åsa@" in value.lower()
    ]
    assert leftovers == []
    assert db_session.scalars(select(OutboxMessage)).all() == []
    [erasure] = db_session.scalars(select(Erasure)).all()
    assert (erasure.subscribers, erasure.deliveries, erasure.source) == (1, 2, "manage")

    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "NOT SENT" in logged  # the outbox did log its sends ...
    assert PHONE not in logged and "701740605" not in logged  # ... without the number
    assert EMAIL not in logged and "åsa@" not in logged.lower()


def test_purge_and_cli_erasure_count_anonymously(dispatch_app, db_session, register):
    client = dispatch_app.test_client()
    client.post("/api/v1/subscriptions", json={"address": HOME, "phone": PHONE})
    result = dispatch_app.test_cli_runner().invoke(
        args=["residents", "erase", "--phone", PHONE, "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "1 local outbox message." in result.output  # the code
    assert [e.source for e in db_session.scalars(select(Erasure))] == ["cli"]
    assert [v for _t, v in every_value(db_session) if "701740605" in v] == []


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("sv", ["Så hanterar vi dina uppgifter", "Mora kommun ansvarar", "Hur länge"]),
        ("en", ["How we handle your data", "Mora kommun is responsible", "For how long"]),
    ],
)
def test_the_privacy_page_names_the_organisation_and_its_contact(client, lang, texts):
    page = client.get(f"/privacy?lang={lang}").get_data(as_text=True)
    for text in [*texts, "kundtjanst@mora.example"]:
        assert text in page
    assert f'<html lang="{lang}">' in page
