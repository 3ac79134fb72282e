"""Engines and sessions: one way to get a Session, in a request or outside one."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import Flask, g
from sqlalchemy import CursorResult, Engine, Result, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        _create_private(make_url(url).database)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, **kwargs)


def _create_private(path: str | None) -> None:
    """Create a SQLite file (and its folder) readable by the owner only, before SQLite does
    with the umask's mode: it holds residents' phone numbers and addresses."""
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched: ``Session.execute`` types every result as
    ``Result``, though DML answers a ``CursorResult``."""
    return cast("CursorResult[Any]", result).rowcount or 0


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


class Database:
    """Holds the engine and hands out a Session per request (``db.session``)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None

    def init_app(self, app: Flask) -> None:
        self.engine = app.config.get("VARSLA_ENGINE") or make_engine(
            app.config["VARSLA_DATABASE_URL"]
        )
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        app.extensions["varsla_db"] = self
        # Per request, and per app context for CLI commands and jobs.
        app.teardown_request(self._close_session)
        app.teardown_appcontext(self._close_session)

    def require_engine(self) -> Engine:
        """The engine, once ``init_app`` has run."""
        assert self.engine is not None, "Database.init_app was not called"
        return self.engine

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            assert self.sessionmaker is not None, "Database.init_app was not called"
            g.db_session = self.sessionmaker()
        return g.db_session

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session outside a request that commits once at the end (CLI, jobs)."""
        assert self.sessionmaker is not None
        with self.sessionmaker() as session, session.begin():
            yield session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
