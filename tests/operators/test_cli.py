"""The ``varsla`` commands operators and installers use."""

from __future__ import annotations

from sqlalchemy import select

from alerts.models import Operator
from tests.factories import create_zone, notice_payload


def test_db_upgrade_is_idempotent(runner):
    for _ in range(2):
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_operator_and_api_key_from_the_command_line(runner, client, session):
    created = runner.invoke(
        args=["operators", "create", "Kim@Motala.se", "--role", "approver", "--password-stdin"],
        input="a long enough password\n",
    )
    assert created.exit_code == 0, created.output
    assert "created kim@motala.se (approver)" in created.output
    operator = session.scalar(select(Operator).where(Operator.email == "kim@motala.se"))
    assert operator is not None and operator.role == "approver"
    assert "a long enough password" not in operator.password_hash

    key = runner.invoke(args=["apikeys", "create", "kim@motala.se"])
    assert key.exit_code == 0, key.output
    token = key.output.strip()
    assert token.startswith("vsk_")
    create_zone(session)
    session.commit()
    response = client.post(
        "/api/v1/notices", json=notice_payload(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201
    assert response.get_json()["created_by"] == "kim@motala.se"


def test_operator_create_refuses_bad_input_clearly(runner):
    short = runner.invoke(
        args=["operators", "create", "a@b.se", "--role", "author", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    bad_role = runner.invoke(args=["operators", "create", "a@b.se", "--role", "boss"])
    assert bad_role.exit_code != 0 and "boss" in bad_role.output
    runner.invoke(
        args=["operators", "create", "a@b.se", "--role", "author", "--password-stdin"],
        input="a long enough password\n",
    )
    again = runner.invoke(
        args=["operators", "create", "A@b.se", "--role", "author", "--password-stdin"],
        input="a long enough password\n",
    )
    assert again.exit_code != 0 and "exists" in again.output


def test_apikey_for_unknown_operator(runner):
    result = runner.invoke(args=["apikeys", "create", "nobody@example.org"])
    assert result.exit_code != 0 and "no operator nobody@example.org" in result.output
