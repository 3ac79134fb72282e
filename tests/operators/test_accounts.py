"""Account administration from the command line: list, deactivate, reset, revoke; and
console sessions that really end."""

from __future__ import annotations

from alerts.operators.auth import create_api_key
from tests.factories import PASSWORD, create_operator, create_zone, notice_payload


def _login(client, email: str, password: str = PASSWORD):
    return client.post("/console/login", data={"email": email, "password": password})


def _console_opens(client) -> bool:
    return client.get("/console/").status_code == 200


def _copy_cookies(source, target) -> None:
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_operators_list_shows_each_with_role_and_state(runner, session):
    create_operator(session, "approver", email="kim@motala.se")
    create_operator(session, "author", email="alva@motala.se")
    session.commit()
    runner.invoke(args=["operators", "deactivate", "alva@motala.se"])
    listed = runner.invoke(args=["operators", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["email", "role", "state", "created"]
    assert lines[1].split()[:3] == ["alva@motala.se", "author", "deactivated"]
    assert lines[2].split()[:3] == ["kim@motala.se", "approver", "active"]


def test_a_deactivated_operator_loses_console_and_api_at_once(runner, session, app):
    operator = create_operator(session, "author", email="alva@motala.se")
    key = create_api_key(session, operator)
    create_zone(session)
    session.commit()
    browser = app.test_client()
    assert _login(browser, "alva@motala.se").status_code == 302
    assert _console_opens(browser)

    result = runner.invoke(args=["operators", "deactivate", "Alva@Motala.se"])
    assert result.exit_code == 0, result.output
    assert "deactivated alva@motala.se" in result.output
    assert not _console_opens(browser)
    api = app.test_client().post(
        "/api/v1/notices", json=notice_payload(), headers={"Authorization": f"Bearer {key}"}
    )
    assert api.status_code == 401
    assert _login(app.test_client(), "alva@motala.se").status_code == 401


def test_reset_password_ends_sessions_and_prints_a_one_time_password(runner, session, app):
    create_operator(session, "approver", email="kim@motala.se")
    session.commit()
    browser = app.test_client()
    _login(browser, "kim@motala.se")
    assert _console_opens(browser)

    result = runner.invoke(args=["operators", "reset-password", "kim@motala.se"])
    assert result.exit_code == 0, result.output
    one_time = result.output.strip().rsplit(" ", 1)[-1]
    assert len(one_time) >= 12
    assert not _console_opens(browser)
    assert _login(app.test_client(), "kim@motala.se").status_code == 401
    assert _login(app.test_client(), "kim@motala.se", one_time).status_code == 302


def test_reset_password_from_standard_input_is_not_echoed(runner, session, app):
    create_operator(session, "approver", email="kim@motala.se")
    session.commit()
    result = runner.invoke(
        args=["operators", "reset-password", "kim@motala.se", "--password-stdin"],
        input="a brand new passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert "a brand new passphrase" not in result.output
    assert _login(app.test_client(), "kim@motala.se", "a brand new passphrase").status_code == 302
    short = runner.invoke(
        args=["operators", "reset-password", "kim@motala.se", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.output


def test_account_commands_name_an_unknown_operator(runner):
    for command in ("deactivate", "reset-password"):
        result = runner.invoke(args=["operators", command, "nobody@motala.se"])
        assert result.exit_code != 0
        assert "no operator nobody@motala.se" in result.output
        assert "Traceback" not in result.output


def test_logout_ends_the_session_even_for_a_copied_cookie(session, app):
    create_operator(session, "author", email="alva@motala.se")
    session.commit()
    browser = app.test_client()
    _login(browser, "alva@motala.se")
    copy = app.test_client()
    _copy_cookies(browser, copy)
    assert _console_opens(copy)
    browser.post("/console/logout")
    assert not _console_opens(browser)
    assert not _console_opens(copy)


def test_apikeys_list_and_revoke(runner, session, app, client):
    operator = create_operator(session, "author", email="alva@motala.se")
    key = create_api_key(session, operator, label="SCADA")
    other = create_api_key(session, operator, label="CMS")
    create_zone(session)
    session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/notices", json=notice_payload(), headers=headers).status_code == 201

    listed = runner.invoke(args=["apikeys", "list"])
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line for line in listed.output.splitlines()[1:]}
    assert set(rows) == {key[:12], other[:12]}
    assert "alva@motala.se" in rows[key[:12]] and "SCADA" in rows[key[:12]]
    assert key not in listed.output  # only the prefix is ever shown
    assert rows[other[:12]].split()[-2:] == ["-", "-"]  # never used, not revoked

    revoked = runner.invoke(args=["apikeys", "revoke", key[:12]])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked {key[:12]} (alva@motala.se)" in revoked.output
    assert client.post("/api/v1/notices", json=notice_payload(), headers=headers).status_code == 401
    still = {"Authorization": f"Bearer {other}"}
    assert client.post("/api/v1/notices", json=notice_payload(), headers=still).status_code == 201


def test_apikeys_revoke_refuses_what_is_not_a_listed_prefix(runner):
    short = runner.invoke(args=["apikeys", "revoke", "vsk_"])
    assert short.exit_code != 0 and "first 12 characters" in short.output
    unknown = runner.invoke(args=["apikeys", "revoke", "vsk_AAAAAAAA"])
    assert unknown.exit_code != 0 and "no API key vsk_AAAAAAAA" in unknown.output
