"""Waking idle dispatchers as soon as deliveries are written, instead of at their next poll.

The fan-out calls :func:`announce` inside the publishing transaction. On
PostgreSQL that is ``NOTIFY varsla_deliveries``, which the server delivers at
commit, never before, to every worker listening (:class:`Listener`: one
connection per worker, in a thread of its own). In the publishing process
itself (``varsla serve``, the SQLite default) an after-commit hook rings the
process's :data:`bell` as well. Nothing depends on a wake-up arriving:
dispatchers still poll, so a lost one (a listener reconnecting) costs at most
one poll interval.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import URL, Engine, event, text
from sqlalchemy.orm import Session

from alerts.db import is_postgres

logger = logging.getLogger(__name__)

CHANNEL = "varsla_deliveries"


class Bell:
    """Wakes every dispatcher of this process that waits on it."""

    def __init__(self) -> None:
        self._events: set[threading.Event] = set()
        self._lock = threading.Lock()

    def add(self, wake: threading.Event) -> None:
        with self._lock:
            self._events.add(wake)

    def discard(self, wake: threading.Event) -> None:
        with self._lock:
            self._events.discard(wake)

    def ring(self) -> None:
        with self._lock:
            events = list(self._events)
        for wake in events:
            wake.set()


bell = Bell()


def _ring_after_commit(_session: Session) -> None:
    bell.ring()


def announce(session: Session) -> None:
    """Say, once the current transaction commits, that deliveries are due."""
    if is_postgres(session):
        session.execute(text(f"NOTIFY {CHANNEL}"))
    if not event.contains(session, "after_commit", _ring_after_commit):
        event.listen(session, "after_commit", _ring_after_commit, once=True)


class Listener:
    """Sets ``wake`` whenever PostgreSQL delivers a NOTIFY on :data:`CHANNEL`."""

    def __init__(self, url: URL, wake: threading.Event, *, check_every_s: float = 1.0) -> None:
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.wake = wake
        self.check_every_s = check_every_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="varsla-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        # The listening thread waits for a notification up to check_every_s; send one so it
        # sees the flag at once (other listeners just poll one extra time).
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.conninfo, autocommit=True, connect_timeout=1) as conn,
        ):
            conn.execute(f"NOTIFY {CHANNEL}")
        self._thread.join(timeout=2 * self.check_every_s + 1)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.wake.set()  # whatever was committed while nobody listened
                    while not self._stopping.is_set():
                        # Returns after check_every_s at the latest, to notice stop().
                        for _ in conn.notifies(timeout=self.check_every_s):
                            self.wake.set()
                            if self._stopping.is_set():
                                break
            except psycopg.Error as exc:
                logger.warning("listening for new deliveries failed (%s); polling meanwhile", exc)
                self._stopping.wait(2.0)


@contextmanager
def wake_on_new_deliveries(wake: threading.Event, engine: Engine | None) -> Iterator[None]:
    """Set ``wake`` while inside: on this process's bell, and on NOTIFY with PostgreSQL."""
    bell.add(wake)
    listener = Listener(engine.url, wake).start() if engine and is_postgres(engine) else None
    try:
        yield
    finally:
        if listener is not None:
            listener.stop()
        bell.discard(wake)
