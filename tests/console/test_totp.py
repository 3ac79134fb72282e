"""The TOTP second factor: enrolment from "my account", the code step of the login (codes
from pyotp, as an authenticator app makes them), replay and throttling, the admin's reset,
VARSLA_REQUIRE_TOTP, and the operator's own password change."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from alerts.models import Operator
from tests.conftest import running_app
from tests.factories import PASSWORD, create_operator

EMAIL = "anna@test.varsla.se"


def code_at(secret: str, offset_s: float = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset_s)


def wrong_code(secret: str) -> str:
    """Six digits that are no code of the steps around now."""
    near = {code_at(secret, s) for s in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "123456", "987654") if c not in near)


def password_step(client, email: str = EMAIL, password: str = PASSWORD):
    return client.post("/console/login", data={"email": email, "password": password})


def enrol(client) -> str:
    """Enrol through the account page as the app's user would; answers the secret."""
    assert client.post("/console/account", data={"do": "totp-start"}).status_code == 302
    page = client.get("/console/account").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    uri = re.search(r'id="totp-uri"', page)
    assert uri and "otpauth://totp/" in page and "<svg" in page  # link and QR code
    confirmed = client.post(
        "/console/account", data={"do": "totp-confirm", "code": code_at(secret)}
    )
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    assert "Tvåstegsverifiering är på." in client.get("/console/account").get_data(as_text=True)
    return secret


@pytest.fixture
def anna(session):
    operator = create_operator(session, "approver", EMAIL)
    session.commit()
    return operator


def test_enrolled_login_asks_for_a_code_and_signs_in_only_with_it(app, anna):
    setup = app.test_client()
    assert password_step(setup).status_code == 302
    secret = enrol(setup)

    client = app.test_client()
    answer = password_step(client)
    assert answer.headers["Location"].endswith("/console/login/code")
    # The password alone signs nobody in.
    assert "/console/login" in client.get("/console/").headers["Location"]
    page = client.get("/console/login/code").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page

    refused = client.post("/console/login/code", data={"code": wrong_code(secret)})
    assert refused.status_code == 401
    assert "Koden stämmer inte" in refused.get_data(as_text=True)
    assert "/console/login" in client.get("/console/").headers["Location"]

    # The app's next code (one step ahead is accepted for clock drift; the step of the
    # enrolment code is used up).
    code = code_at(secret, 30)
    signed_in = client.post("/console/login/code", data={"code": code})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/console/")
    assert client.get("/console/").status_code == 200

    # The same code again, in another login, is refused: codes are single-use.
    other = app.test_client()
    password_step(other)
    replay = other.post("/console/login/code", data={"code": code})
    assert replay.status_code == 401
    assert "/console/login" in other.get("/console/").headers["Location"]


def test_a_wrong_password_never_reaches_the_code_step(app, anna):
    setup = app.test_client()
    password_step(setup)
    enrol(setup)
    client = app.test_client()
    assert password_step(client, password="not the password at all").status_code == 401
    assert "/console/login" in client.get("/console/login/code").headers["Location"]


def test_wrong_codes_are_throttled_like_passwords(app, anna):
    setup = app.test_client()
    password_step(setup)
    secret = enrol(setup)
    client = app.test_client()
    password_step(client)
    for _ in range(5):
        assert (
            client.post("/console/login/code", data={"code": wrong_code(secret)}).status_code == 401
        )
    throttled = client.post("/console/login/code", data={"code": code_at(secret, 30)})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1


def test_an_admin_resets_a_lost_second_factor(app, session, anna):
    setup = app.test_client()
    password_step(setup)
    enrol(setup)
    admin = create_operator(session, "admin", "boss@test.varsla.se")
    session.commit()
    boss = app.test_client()
    password_step(boss, "boss@test.varsla.se")
    page = boss.get("/console/admin/accounts").get_data(as_text=True)
    assert f"Återställ tvåstegsverifiering för {EMAIL}" in page
    done = boss.post("/console/admin/accounts", data={"do": "totp-reset", "operator": str(anna.id)})
    assert "är återställd" in done.get_data(as_text=True)
    # Her open session ended; she signs in with the password alone again.
    assert "/console/login" in setup.get("/console/").headers["Location"]
    client = app.test_client()
    assert password_step(client).headers["Location"].endswith("/console/")
    assert admin.id  # the admin did it, not the operator


def test_an_author_cannot_reset_anyones_second_factor(app, session, anna):
    create_operator(session, "author", "writer@test.varsla.se")
    session.commit()
    setup = app.test_client()
    password_step(setup)
    enrol(setup)
    writer = app.test_client()
    password_step(writer, "writer@test.varsla.se")
    refused = writer.post(
        "/console/admin/accounts", data={"do": "totp-reset", "operator": str(anna.id)}
    )
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(Operator, anna.id).totp_enabled


def test_enrolment_needs_a_right_code(app, session, anna):
    client = app.test_client()
    password_step(client)
    client.post("/console/account", data={"do": "totp-start"})
    wrong = client.post("/console/account", data={"do": "totp-confirm", "code": "12"})
    assert wrong.status_code == 422
    text = wrong.get_data(as_text=True)
    assert 'id="err-code"' in text and 'aria-invalid="true"' in text
    session.expire_all()
    assert not session.get(Operator, anna.id).totp_enabled
    # Not in force: the login asks for no code.
    assert password_step(app.test_client()).headers["Location"].endswith("/console/")


@pytest.fixture
def strict_app(database_url, tmp_path):
    with running_app(database_url, tmp_path, VARSLA_REQUIRE_TOTP="1") as app:
        yield app


def test_require_totp_sends_admins_to_enrol_and_lets_them_do_nothing_else(strict_app):
    from alerts.extensions import db

    session = db.sessionmaker()
    create_operator(session, "admin", "boss@test.varsla.se")
    create_operator(session, "author", "writer@test.varsla.se")
    session.commit()

    boss = strict_app.test_client()
    first = password_step(boss, "boss@test.varsla.se")
    assert first.headers["Location"].endswith("/console/account")
    page = boss.get("/console/account").get_data(as_text=True)
    assert 'id="must-enrol"' in page
    for path in ("/console/", "/console/admin/accounts", "/console/admin/test-group"):
        assert boss.get(path).headers["Location"].endswith("/console/account"), path
    # No other action of the account page either (a phone number, a password).
    assert (
        boss.post("/console/account", data={"do": "phone", "phone": "0701740605"}).status_code
        == 403
    )
    secret = enrol(boss)
    assert boss.get("/console/admin/accounts").status_code == 200
    # The next login asks for the code.
    again = strict_app.test_client()
    assert password_step(again, "boss@test.varsla.se").headers["Location"].endswith("/login/code")
    assert again.post("/console/login/code", data={"code": code_at(secret, 30)}).status_code == 302
    assert again.get("/console/admin/accounts").status_code == 200

    # Authors are not forced.
    writer = strict_app.test_client()
    assert password_step(writer, "writer@test.varsla.se").headers["Location"].endswith("/console/")
    assert writer.get("/console/").status_code == 200
    session.close()


def test_operator_sets_a_mobile_number_with_errors_beside_the_field(app, session, anna):
    client = app.test_client()
    password_step(client)
    bad = client.post("/console/account", data={"do": "phone", "phone": "12345"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert re.search(r'<p class="field-error" id="err-phone">Numret är inte giltigt', text)
    assert 'aria-describedby="err-phone phone-hint" aria-invalid="true"' in text
    landline = client.post("/console/account", data={"do": "phone", "phone": "08-123 456 78"})
    assert "inget mobilnummer" in landline.get_data(as_text=True)
    ok = client.post("/console/account", data={"do": "phone", "phone": "070-174 06 05"})
    assert ok.status_code == 302
    session.expire_all()
    assert session.scalar(select(Operator.phone).where(Operator.id == anna.id)) == "+46701740605"


def test_operator_changes_their_own_password(app, session, anna):
    client = app.test_client()
    password_step(client)
    other = app.test_client()
    password_step(other)
    wrong = client.post(
        "/console/account",
        data={
            "do": "password",
            "current_password": "a wrong guess!!",
            "new_password": "a brand new secret",
            "repeat_password": "a brand new secret",
        },
    )
    assert wrong.status_code == 422 and "Det nuvarande lösenordet stämmer inte." in wrong.get_data(
        as_text=True
    )
    short = client.post(
        "/console/account",
        data={
            "do": "password",
            "current_password": PASSWORD,
            "new_password": "short",
            "repeat_password": "short",
        },
    )
    assert short.status_code == 422 and 'id="err-new_password"' in short.get_data(as_text=True)
    done = client.post(
        "/console/account",
        data={
            "do": "password",
            "current_password": PASSWORD,
            "new_password": "a brand new secret",
            "repeat_password": "a brand new secret",
        },
    )
    assert done.status_code == 302
    assert client.get("/console/").status_code == 200  # this session carries on
    assert "/console/login" in other.get("/console/").headers["Location"]  # others end
    assert password_step(app.test_client()).status_code == 401
    assert password_step(app.test_client(), password="a brand new secret").status_code == 302


def test_the_account_page_speaks_english(app, anna):
    client = app.test_client()
    password_step(client)
    page = client.get("/console/account?lang=en").get_data(as_text=True)
    for words in ("My account", "Two-step verification", "Mobile number", "Change password"):
        assert words in page
