"""Passwords are Argon2id at RFC 9106's low-memory cost unless the app is told otherwise."""

from __future__ import annotations

import pytest
from argon2 import Type

from alerts.models import Operator
from alerts.operators.auth import authenticate, hash_password, password_hasher
from tests.conftest import make_test_app
from tests.factories import PASSWORD, create_operator


def test_production_default_is_argon2id_at_the_strong_cost(database_url):
    """An app not told a cost, as in production, hashes at the strong one."""
    from alerts.app import create_app

    app = create_app({"VARSLA_DATABASE_URL": database_url, "SECRET_KEY": "test-secret"})
    hasher = app.extensions["varsla_password_hasher"]
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
    assert (hasher.hash_len, hasher.salt_len) == (32, 16)
    with app.app_context():
        assert hash_password(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert password_hasher("strong").time_cost == 3


def test_the_suite_hashes_at_the_test_cost(app):
    assert hash_password(PASSWORD).startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_an_unknown_cost_is_refused_at_startup(database_url, tmp_path):
    with pytest.raises(ValueError, match="VARSLA_PASSWORD_HASH_COST"):
        make_test_app(database_url, tmp_path, VARSLA_PASSWORD_HASH_COST="cheap")


def test_a_test_cost_hash_is_made_strong_at_the_next_login(database_url, tmp_path, session):
    from alerts.extensions import db

    operator = create_operator(session, "author", "kim@test.varsla.se")
    session.commit()
    assert operator.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")

    strong = make_test_app(
        database_url, tmp_path, VARSLA_PASSWORD_HASH_COST="strong", VARSLA_ENGINE=db.engine
    )
    with strong.app_context():
        with db.begin() as login:
            assert authenticate(login, "kim@test.varsla.se", PASSWORD, client="test") is not None
        with db.begin() as check:
            stored = check.get(Operator, operator.id)
            assert stored is not None
            assert stored.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
            assert authenticate(check, "kim@test.varsla.se", "wrong password", client="t") is None
