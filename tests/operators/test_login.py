"""Console login: throttled per client and account with growing delays, never locking
others out; unknown and known emails cost the same; nothing typed is logged."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from alerts.models import LoginAttempt
from alerts.operators import auth
from tests.factories import PASSWORD, create_operator

DESK_A = {"REMOTE_ADDR": "192.0.2.10"}
DESK_B = {"REMOTE_ADDR": "192.0.2.20"}


def _login(client, email: str, password: str, desk: dict[str, str]):
    return client.post(
        "/console/login", data={"email": email, "password": password}, environ_base=desk
    )


def _operators(session) -> None:
    create_operator(session, "approver", email="kim@motala.se")
    create_operator(session, "author", email="alva@motala.se")
    session.commit()


def test_delays_grow_from_one_second_to_a_quarter_hour():
    assert [auth.login_delay_s(n) for n in (0, 4, 5, 6, 7, 10)] == [0, 0, 1, 2, 4, 32]
    assert auth.login_delay_s(40) == auth.MAX_LOGIN_DELAY_S == 900


def test_guessing_from_one_desk_slows_that_desk_only(client, session):
    _operators(session)
    for _ in range(auth.FREE_FAILURES):
        assert _login(client, "kim@motala.se", "wrong password!", DESK_A).status_code == 401
    throttled = _login(client, "kim@motala.se", PASSWORD, DESK_A)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert "försök igen om" in throttled.get_data(as_text=True)
    # Kim at another desk, and a colleague at the same desk, are not locked out.
    assert _login(client, "kim@motala.se", PASSWORD, DESK_B).status_code == 302
    assert _login(client, "alva@motala.se", PASSWORD, DESK_A).status_code == 302


def test_the_wait_ends_and_a_success_clears_the_count(client, session):
    _operators(session)
    for _ in range(auth.FREE_FAILURES):
        _login(client, "kim@motala.se", "wrong password!", DESK_A)
    assert _login(client, "kim@motala.se", PASSWORD, DESK_A).status_code == 429
    # Two seconds later (the attempts moved back in time instead of sleeping).
    for attempt in session.scalars(select(LoginAttempt)):
        attempt.at -= timedelta(seconds=2)
    session.commit()
    assert _login(client, "kim@motala.se", PASSWORD, DESK_A).status_code == 302
    for _ in range(auth.FREE_FAILURES - 1):
        assert _login(client, "kim@motala.se", "wrong password!", DESK_A).status_code == 401
    assert _login(client, "kim@motala.se", "wrong password!", DESK_A).status_code == 401


def test_an_unknown_email_costs_the_same_password_check(client, session, monkeypatch):
    _operators(session)
    checked: list[str] = []
    real = client.application.extensions["varsla_password_hasher"]

    class Counting:
        def __getattr__(self, name: str):
            return getattr(real, name)

        def verify(self, hash_: str, password: str) -> bool:
            checked.append(password)
            return real.verify(hash_, password)

    monkeypatch.setitem(client.application.extensions, "varsla_password_hasher", Counting())
    _login(client, "nobody@motala.se", "guess number one", DESK_A)
    _login(client, "kim@motala.se", "guess number two", DESK_A)
    assert checked == ["guess number one", "guess number two"]


def test_failed_logins_log_neither_the_typed_email_nor_the_password(client, session, caplog):
    _operators(session)
    with caplog.at_level(logging.DEBUG):
        _login(client, "kim@motala.se", "hunter2hunter2", DESK_A)
        _login(client, "typo@motala.se", "hunter2hunter2", DESK_A)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed login" in logged
    for secret in ("kim@motala.se", "typo@motala.se", "hunter2"):
        assert secret not in logged
