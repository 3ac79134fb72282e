"""The shared send rate: limiters in several processes take tokens from one database bucket.

Each "process" here is a limiter with its own engine (its own connections), as
two ``varsla worker`` processes would have; both run on the suite's database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.orm import sessionmaker

from alerts.db import make_engine
from alerts.dispatch.ratelimit import SharedTokenBucket, split_grant
from alerts.models import RateBucket

THREADS = 4  # sending threads per process


@pytest.fixture
def processes(database_url) -> Iterator[list[sessionmaker]]:
    """Two sessionmakers on separate engines: what two worker processes would hold."""
    engines = [make_engine(database_url) for _ in range(2)]
    yield [sessionmaker(engine) for engine in engines]
    with engines[0].begin() as connection:
        connection.execute(delete(RateBucket))
    for engine in engines:
        engine.dispose()


def hammer(limiters: list[SharedTokenBucket], seconds: float) -> tuple[float, list[list[float]]]:
    """Every limiter's threads take tokens as fast as they are given, for ``seconds``.

    Returns when it started and, per limiter, when each token was taken (monotonic).
    """
    stop = threading.Event()
    taken: list[list[float]] = [[] for _ in limiters]

    def send(limiter: SharedTokenBucket, times: list[float]) -> None:
        while limiter.acquire(stop):
            times.append(time.monotonic())

    threads = [
        threading.Thread(target=send, args=(limiter, times))
        for limiter, times in zip(limiters, taken, strict=True)
        for _ in range(THREADS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in threads), "a thread did not stop"
    return started, taken


def test_two_processes_together_keep_to_the_rate(processes):
    rate = 20.0
    burst = max(1.0, rate)
    limiters = [SharedTokenBucket(factory, "sms", rate) for factory in processes]

    started, taken = hammer(limiters, 1.5)

    times = sorted(t for times in taken for t in times)
    allowed = burst + rate * (times[-1] - started)
    assert len(times) <= allowed, f"{len(times)} tokens in {times[-1] - started:.2f} s"
    # Both processes send, and together they use most of what the rate allows.
    assert all(taken), [len(t) for t in taken]
    assert len(times) >= 0.7 * allowed, f"{len(times)} tokens of {allowed:.0f} allowed"


def test_a_grant_left_unused_does_not_add_to_the_next_burst(processes):
    rate = 20.0
    first, second = (SharedTokenBucket(factory, "sms", rate) for factory in processes)
    assert first.acquire()  # takes a grant of several tokens and spends one
    time.sleep(1.2)  # the bucket refills to its burst; the rest of that grant is stale

    started, taken = hammer([first, second], 0.5)

    times = sorted(t for times in taken for t in times)
    assert len(times) <= max(1.0, rate) + rate * (times[-1] - started)


def test_stopping_returns_false_promptly(processes):
    limiter = SharedTokenBucket(processes[0], "email", 1.0)
    assert limiter.acquire()  # the only token for a second
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(limiter.acquire(stop)))
    waiter.start()
    time.sleep(0.1)
    stopped_at = time.monotonic()
    stop.set()
    waiter.join(timeout=2)
    assert result == [False]
    assert time.monotonic() - stopped_at < 0.2
    # Already stopping and nothing at hand: no wait at all.
    before = time.monotonic()
    assert limiter.acquire(stop) is False
    assert time.monotonic() - before < 0.05


def test_rate_zero_never_touches_the_database(processes):
    factory = processes[0]
    checkouts: list[object] = []
    event.listen(factory.kw["bind"], "checkout", lambda *args: checkouts.append(args))
    limiter = SharedTokenBucket(factory, "sms", 0)

    assert all(limiter.acquire() for _ in range(1000))

    assert checkouts == []
    with factory() as session:
        assert session.scalars(select(RateBucket)).all() == []


def test_a_grant_is_refilled_up_to_the_burst_and_waits_for_the_next_grant():
    # 10 s idle at 20/s refills only up to the burst (20); a grant is at most 4 (0.2 s).
    assert split_grant(0.0, 10.0, rate=20, capacity=20, most=4) == (4, 16.0, 0.0)
    # Less than a grant but at least a token: what there is.
    assert split_grant(0.5, 0.1, rate=20, capacity=20, most=4) == (2, 0.5, 0.0)
    # Less than a token: nothing, and wait until a whole grant has refilled.
    granted, left, wait_s = split_grant(0.5, 0.0, rate=20, capacity=20, most=4)
    assert (granted, left) == (0, 0.5)
    assert wait_s == pytest.approx(3.5 / 20)
    # A clock that went back refills nothing.
    assert split_grant(2.0, -5.0, rate=20, capacity=20, most=4) == (2, 0.0, 0.0)
