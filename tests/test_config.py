"""Configuration: one typed Settings, every variable documented, bad values stop the start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from alerts.config import VARIABLES, Settings, load_config

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_variable_the_settings_read_is_in_the_readme():
    readme = README.read_text()
    assert [name for name in VARIABLES if f"`{name}`" not in readme] == []


def test_environment_values_are_typed_and_defaults_fill_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("VARSLA_SMS_RATE", "12.5")
    monkeypatch.setenv("VARSLA_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("VARSLA_SMTP_URL", "")  # empty counts as unset
    config = load_config(tmp_path)
    settings = Settings.model_validate(config)
    assert settings.sms_rate == 12.5 and settings.max_attempts == 3
    assert settings.smtp_url == "" and settings.email_rate == 20.0
    assert settings.database_url == f"sqlite:///{tmp_path / 'varsla.sqlite3'}"


def test_a_bad_value_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("VARSLA_SMS_RATE", "fast")
    with pytest.raises(ValidationError) as raised:
        Settings.model_validate(load_config(tmp_path))
    assert "VARSLA_SMS_RATE" in str(raised.value)
