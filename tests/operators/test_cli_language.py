"""The ``varsla`` CLI speaks English unless VARSLA_CLI_LANG=sv, domain errors included."""

from __future__ import annotations

import pytest

from alerts.i18n import cli_language

CREATE = ["operators", "create", "kim@motala.se", "--role", "approver", "--password-stdin"]


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "en"),
        ({"LANG": "sv_SE.UTF-8"}, "en"),  # the host's locale does not change the output
        ({"VARSLA_CLI_LANG": "sv"}, "sv"),
        ({"VARSLA_CLI_LANG": "SV_se"}, "sv"),
        ({"VARSLA_CLI_LANG": "de"}, "en"),
    ],
)
def test_the_cli_language(environ, language):
    assert cli_language(environ) == language


def test_messages_and_errors_in_swedish_when_asked(runner):
    swedish = {"VARSLA_CLI_LANG": "sv"}
    short = runner.invoke(args=CREATE, input="kort\n", env=swedish)
    assert short.exit_code != 0
    assert "password: måste ha minst 12 tecken" in short.output
    created = runner.invoke(args=CREATE, input="a long enough password\n", env=swedish)
    assert created.exit_code == 0, created.output
    assert "skapade kim@motala.se (approver)" in created.output
    again = runner.invoke(
        args=CREATE, input="a long enough password\n", env={"VARSLA_CLI_LANG": "en"}
    )
    assert "email: an operator with this email exists" in again.output
