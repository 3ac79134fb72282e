"""Send rates for the whole installation: a token bucket in the database, handed out in grants.

``VARSLA_SMS_RATE`` and ``VARSLA_EMAIL_RATE`` are what the provider allows the
installation (Twilio's messages per second for a sender, an SMTP relay's rate),
however many dispatcher processes run. One ``rate_buckets`` row per channel
holds the tokens left; it refills at ``rate`` per second up to one second's
worth (``max(1, rate)``, the burst).

A process takes tokens in small grants (about ``GRANT_S`` worth) into a local
stock its sending threads draw from. When the stock is empty one thread fetches
the next grant in its own short transaction while the others wait for it, so
the database sees a few transactions per second per process, never one per
message, and never one while a provider is being called. When nothing is left
the process waits until the bucket holds a grant again.

The row is locked while it is read and written: ``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite the transaction starts with a write (the insert that
creates the row if missing), which takes the database's write lock first. The
clock is the database's on PostgreSQL, whose workers run on several hosts;
SQLite's processes share one host and its clock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alerts.db import is_postgres
from alerts.dispatch.models import RateBucket
from alerts.orm import utcnow

logger = logging.getLogger(__name__)

#: A grant is about this many seconds of the rate (at least one token).
GRANT_S = 0.2
#: Waiting threads look at ``stop`` this often (a finished fetch wakes them at once).
POLL_S = 0.05
#: After a failed fetch (database unreachable), wait this long before the next one.
ERROR_WAIT_S = 1.0


def split_grant(
    tokens: float, elapsed_s: float, *, rate: float, capacity: float, most: int
) -> tuple[int, float, float]:
    """Refill ``tokens`` for ``elapsed_s`` and take a grant of at most ``most`` tokens.

    Returns (granted, tokens left, seconds until a full grant has refilled when
    nothing was granted, else 0).
    """
    available = min(capacity, tokens + max(0.0, elapsed_s) * rate)
    granted = int(min(available, most))
    wait_s = 0.0 if granted else (most - available) / rate
    return granted, available - granted, wait_s


class SharedTokenBucket:
    """At most ``rate`` sends per second on average for all processes together.

    ``acquire`` is thread-safe and blocks until a token is at hand. A rate of 0
    or less means unlimited, and then the database is never touched.
    """

    def __init__(
        self, sessionmaker: Callable[[], Session], channel: str, rate_per_s: float
    ) -> None:
        self.channel = channel
        self.rate = float(rate_per_s)
        self.capacity = max(1.0, self.rate)
        self.grant_max = max(1, int(self.rate * GRANT_S))
        self._sessionmaker = sessionmaker
        self._changed = threading.Condition()
        self._stock = 0
        self._stock_until = 0.0
        self._fetching = False
        self._next_fetch = 0.0
        # Per event loop: the one task that waits for a grant while the others wait for it.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def try_acquire(self) -> bool:
        """Take a token from this process's stock if one is at hand; never waits or fetches."""
        if self.rate <= 0:
            return True
        with self._changed:
            if time.monotonic() >= self._stock_until:
                self._stock = 0
            if self._stock:
                self._stock -= 1
                return True
        return False

    async def acquire_async(self, stop: threading.Event | None = None) -> bool:
        """:meth:`acquire` for an asyncio task, without blocking the event loop.

        A token from the stock is taken at once. Otherwise one task of the loop
        at a time runs :meth:`acquire` in a thread (it fetches the next grant in
        its own transaction, or waits for the bucket to refill) while the others
        wait their turn, and take from the stock it brought.
        """
        if self.try_acquire():
            return True
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Lock()
        async with gate:
            if self.try_acquire():
                return True
            return await asyncio.to_thread(self.acquire, stop)

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Take one token, waiting for it; False when ``stop`` is set and none is at hand."""
        if self.rate <= 0:
            return True
        while True:
            with self._changed:
                while True:
                    now = time.monotonic()
                    if now >= self._stock_until:
                        # The bucket has refilled since this stock was granted: spending it
                        # now would add to the next burst.
                        self._stock = 0
                    if self._stock:
                        self._stock -= 1
                        return True
                    if stop is not None and stop.is_set():
                        return False
                    if not self._fetching and now >= self._next_fetch:
                        self._fetching = True
                        break
                    wait_s = POLL_S if self._fetching else min(POLL_S, self._next_fetch - now)
                    self._changed.wait(wait_s)
            granted, wait_s = 0, ERROR_WAIT_S
            try:
                granted, wait_s = self._fetch()
            except Exception:
                logger.exception("%s rate: taking tokens from the database failed", self.channel)
            finally:
                with self._changed:
                    now = time.monotonic()
                    self._fetching = False
                    self._stock += granted
                    self._stock_until = now + self.capacity / self.rate
                    self._next_fetch = now + wait_s
                    self._changed.notify_all()

    def _fetch(self) -> tuple[int, float]:
        """One short transaction: refill the row, take a grant, store the rest."""
        with self._sessionmaker() as session, session.begin():
            postgres = is_postgres(session)
            insert = postgresql.insert if postgres else sqlite.insert
            session.execute(
                insert(RateBucket)
                .values(
                    channel=self.channel,
                    tokens=self.capacity,
                    refilled_at=func.clock_timestamp() if postgres else utcnow(),
                )
                .on_conflict_do_nothing()
            )
            row = select(RateBucket.tokens, RateBucket.refilled_at).where(
                RateBucket.channel == self.channel
            )
            if postgres:
                tokens, refilled_at, now = session.execute(
                    row.add_columns(func.clock_timestamp()).with_for_update()
                ).one()
            else:
                (tokens, refilled_at), now = session.execute(row).one(), utcnow()
            granted, left, wait_s = split_grant(
                tokens,
                (now - refilled_at).total_seconds(),
                rate=self.rate,
                capacity=self.capacity,
                most=self.grant_max,
            )
            session.execute(
                update(RateBucket)
                .where(RateBucket.channel == self.channel)
                # A clock that went back must not hand out the same time twice.
                .values(tokens=left, refilled_at=max(refilled_at, now))
            )
        logger.debug("%s rate: granted %d, %.2f left in the bucket", self.channel, granted, left)
        return granted, wait_s
