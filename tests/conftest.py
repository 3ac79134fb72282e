"""Fixtures for the whole suite: the database under test, the app, clients, factories.

``VARSLA_TEST_DB=postgresql`` runs the suite on PostgreSQL (127.0.0.1:5432)
instead of SQLite; either way every run gets a fresh database. Tests marked
``postgres`` always need PostgreSQL: they skip with the reason when it is not
reachable, except under ``CI=true`` where that is a failure.

A test that brings its own database gives the same result in either run, so it runs
in one: ``postgres`` tests in the PostgreSQL run, ``sqlite`` tests (an install on
their own SQLite file) in the SQLite run; the other run skips them and says where
they ran. ``python3 dev.py test`` makes both runs.
"""

from __future__ import annotations

import contextvars
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import text
from sqlalchemy.engine import make_url

from alerts.db import make_engine
from alerts.migrate import upgrade
from alerts.models import Base

PG_ADMIN_URL = os.environ.get(
    "VARSLA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DB = os.environ.get("VARSLA_TEST_DB", "sqlite")

# Fake providers, the dispatch app and its helpers: used by dispatch, residents and e2e tests.
# Every /api/v1 answer is checked against the OpenAPI document (tests.openapi_contract).
pytest_plugins = ["tests.delivery", "tests.openapi_contract", "tests.browser"]


def pytest_collection_modifyitems(config, items) -> None:
    """Skip the tests that bring their own database in the other database's run."""
    elsewhere = {
        "postgres": pytest.mark.skip(
            reason="runs in the PostgreSQL run (VARSLA_TEST_DB=postgresql)"
        ),
        "sqlite": pytest.mark.skip(reason="runs in the SQLite run (VARSLA_TEST_DB=sqlite)"),
    }
    del elsewhere["postgres" if TEST_DB == "postgresql" else "sqlite"]
    for item in items:
        for marker, skip in elsewhere.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = make_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: {exc}"


class PostgresDatabases:
    """Creates fresh databases on the local server and drops them at the end of the run."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.admin = None

    def create(self) -> str:
        if self.admin is None:
            self.admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"varsla_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # A throwaway database: a commit need not wait for its WAL to reach the disk
            # (the suite commits thousands of times; nothing else about it changes).
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        self.created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def pg_available() -> None:
    reason = _pg_reachable()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, pg_databases, request) -> str:
    """The database the suite runs on, created fresh and migrated once."""
    if TEST_DB == "postgresql":
        request.getfixturevalue("pg_available")
        url = pg_databases.create()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'varsla.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def pg_url(pg_available, pg_databases, request) -> str:
    """A migrated PostgreSQL database for tests that need PostgreSQL itself: the suite's
    own in the PostgreSQL run (every test leaves it empty), else a fresh one."""
    if TEST_DB == "postgresql":
        return request.getfixturevalue("database_url")
    url = pg_databases.create()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def truncate_all(engine) -> None:
    """Empty every table and restart its ids. On PostgreSQL, first end connections a failed
    test left in a transaction, or their locks would hold up the deletes forever.

    DELETE, not TRUNCATE: a test leaves a few rows, and PostgreSQL's TRUNCATE (new files
    for every table) took about 350 ms after each test on a loaded machine, DELETE 20 ms.
    """
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
        if engine.dialect.name == "postgresql":
            # What TRUNCATE ... RESTART IDENTITY did: every sequence back to its start.
            conn.execute(
                text(
                    "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s "
                    "JOIN pg_class c ON c.oid = s.seqrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema()"
                )
            )


class _SharedBytecode(BytecodeCache):
    """Compiled templates kept for the whole run, shared by every test app: an app compiles
    each template it renders, and the suite makes hundreds of apps with the same templates
    (a page test spent a sixth of its time compiling them). Jinja keys each entry by the
    template's name and a checksum of its source."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


SHARED_BYTECODE = _SharedBytecode()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Fixtures keep an app context pushed for direct service calls; without this, Flask
    would reuse it for requests and share ``g`` (the db session, the CSRF token, the
    operator) between requests and with the test, hiding real bugs.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_test_app(database_url: str, tmp_path: Path, **config):
    from alerts.app import create_app
    from tests.openapi_contract import check_api_responses

    app = create_app(
        {
            "TESTING": True,
            "VARSLA_DATABASE_URL": database_url,
            "VARSLA_BASE_URL": "http://varsla.test",
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            # Argon2id at its cheapest: the suite creates hundreds of operators.
            "VARSLA_PASSWORD_HASH_COST": "test",
            **config,
        }
    )
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = SHARED_BYTECODE
    check_api_responses(app)
    return app


@contextmanager
def running_app(database_url: str, tmp_path: Path, **config):
    """A test app inside its app context; every table is emptied when it ends."""
    from alerts.extensions import db

    app = make_test_app(database_url, tmp_path, **config)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.close()
            truncate_all(db.engine)
            db.engine.dispose()


@pytest.fixture
def app(database_url, tmp_path):
    """The app on the suite's database; every table is emptied after the test."""
    with running_app(database_url, tmp_path) as app:
        yield app


@pytest.fixture
def session(app):
    """A session for arranging data; commit what the app under test must see."""
    from alerts.extensions import db

    session = db.sessionmaker()
    yield session
    session.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
