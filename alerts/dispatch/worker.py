"""The dispatcher loop: claim, send with bounded concurrency under rate limits, record.

One main thread talks to the database: it claims a batch (one short transaction,
committed, session closed), builds each revision's snapshot once, and hands the
batch to the sender. The sender is an asyncio event loop in its own thread:
``concurrency`` long-lived sending tasks take claimed deliveries from one queue,
so at most that many talk to a provider at once (the SDK's asyncio Twilio
client, ``messages.create_async``; SMTP with smtplib over a few reused
connections, a thread each). The main thread claims at most
``concurrency + batch_size`` ahead of what has been recorded, so memory stays
bounded however large the backlog. A task waits for a token of its channel's
rate limit before calling the provider; the limit is shared by all dispatcher
processes, and one waiting task at a time fetches a grant of tokens for the
others, in a thread and its own short transaction (alerts.dispatch.ratelimit).
Otherwise the sender never touches the database. Results come back on a queue
and are recorded in batches. No database connection is held while a provider is
called.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from flask import Flask
from prometheus_client import Histogram
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import settings as settings_of
from alerts.dispatch import fanout
from alerts.dispatch import metrics as dispatch_metrics
from alerts.dispatch.channels_config import ChannelFactory, channel_factories, links_from
from alerts.dispatch.claim import Claimed, claim_batch, reclaim_expired, renew_leases
from alerts.dispatch.messages import Composer, make_reference
from alerts.dispatch.models import Delivery, DeliveryStatus, FanoutJob, FanoutState
from alerts.dispatch.outcomes import RetryPolicy, SendReport, apply_reports
from alerts.dispatch.ratelimit import SharedTokenBucket
from alerts.dispatch.wakeup import wake_on_new_deliveries
from alerts.extensions import db
from alerts.notices.models import NoticeRevision
from alerts.notices.snapshots import build_snapshot
from alerts.orm import utcnow
from channels.base import DeliveryResult, NoticeSnapshot, Outcome, PushChannel

logger = logging.getLogger(__name__)

#: Errors that mean the database is unreachable or restarting, not a bug: the loop waits.
DATABASE_ERRORS = (OperationalError, InterfaceError)


@dataclass
class DispatcherSettings:
    """How one dispatcher process works. Rates (messages per second, 0 = unlimited) are for
    the whole installation: all dispatcher processes share them (alerts.dispatch.ratelimit)."""

    rates: dict[str, float]
    retry: RetryPolicy
    lease_s: float
    # Sends in flight (asyncio tasks past the semaphore); VARSLA_SEND_CONCURRENCY.
    concurrency: int = 200
    batch_size: int = 200
    # Only a fallback (retries falling due, leases reclaimed): new deliveries wake
    # an idle dispatcher at once (alerts.dispatch.wakeup).
    poll_s: float = 0.5
    reclaim_every_s: float = 5.0
    flush_every_s: float = 0.2
    # Candidates per fan-out chunk (alerts.dispatch.fanout).
    fanout_chunk: int = fanout.CHUNK
    # While the database is out of reach: the first wait before trying again, doubling
    # up to 5 s.
    outage_wait_s: float = 0.5

    @classmethod
    def from_app(cls, app: Flask, **overrides: Any) -> DispatcherSettings:
        """The installation's rates, retries and lease, with ``overrides`` (None: keep)."""
        config = settings_of(app)
        settings = cls(
            rates={"sms": config.sms_rate, "email": config.email_rate},
            retry=RetryPolicy.from_settings(config),
            lease_s=config.lease_s,
            concurrency=config.send_concurrency,
        )
        for name, value in overrides.items():
            if value is not None:
                setattr(settings, name, value)
        return settings


#: How long stopping waits for sends in flight: longer than a provider's timeout (10 s).
STOP_WAIT_S = 30.0


#: Net allocations between two collections of the youngest generation (CPython: 700).
YOUNG_GENERATION = 20_000


def settle_heap() -> None:
    """Keep the cyclic garbage collector off what a dispatcher process holds for its lifetime.

    Call once the application is loaded, before dispatching. The application (Flask,
    SQLAlchemy's mappers, the translation catalogues) is some 150,000 objects that every
    full collection walked, and with 200 sends in flight, each holding its coroutine,
    futures and HTTP objects, CPython's default threshold collected the young generation
    every dozen messages and found next to no garbage: collections were a fifth of a
    worker's CPU (bench/dispatch.py, one worker, a provider answering at once). Frozen,
    the loaded objects are never walked again; the higher threshold still collects the
    garbage cycles that sends make, a few thousand objects at a time.
    """
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)


def worker_name() -> str:
    """host:pid:random: unique per process, and says where a stuck lease came from."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Job(NamedTuple):
    claimed: Claimed
    snapshot: NoticeSnapshot


class Dispatcher:
    """Claims and sends deliveries until stopped. See the module docstring."""

    def __init__(
        self,
        app: Flask,
        settings: DispatcherSettings | None = None,
        *,
        owner: str | None = None,
        factories: dict[str, ChannelFactory] | None = None,
        sessions: sessionmaker[Session] | None = None,
    ) -> None:
        """``sessions``: where the dispatcher's transactions go (default: the application's
        sessionmaker, db.sessionmaker)."""
        self.app = app
        self.settings = settings or DispatcherSettings.from_app(app)
        self.owner = owner or worker_name()
        self.factories = factories or channel_factories(settings_of(app))
        self.composer = Composer(links_from(settings_of(app)))
        assert db.sessionmaker is not None
        self.sessions = sessions or db.sessionmaker
        self.limiters = {
            name: SharedTokenBucket(self.sessions, name, rate)
            for name, rate in self.settings.rates.items()
        }
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        # The sender's event loop while run() runs, and what lives on it: the jobs not yet
        # taken, the sending tasks, and a future for each of them waiting for a job.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: deque[_Job] = deque()
        self._senders: list[asyncio.Task[None]] = []
        self._idle: deque[asyncio.Future[None]] = deque()
        self._channels: dict[str, PushChannel] = {}
        # Reports of finished sends, handed over a list per loop iteration: waking the main
        # thread once per message cost the sender its CPU in thread switches.
        self._results: queue.SimpleQueue[list[SendReport]] = queue.SimpleQueue()
        self._done: list[SendReport] = []
        self._snapshots: dict[tuple[int, bool], NoticeSnapshot] = {}
        self._fanout_cache: dict[int, fanout.Candidates] = {}
        self.counts: dict[str, int] = {}
        self.first_send_at: float | None = None
        self.metrics = dispatch_metrics.of(app)
        self._send_seconds_of: dict[str, Histogram] = {}

    # --- the sender (its event loop's thread) ----------------------------------------

    def _channel(self, name: str) -> PushChannel:
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = self.factories[name]()
        return channel

    @contextlib.contextmanager
    def _sender(self) -> Iterator[Callable[[list[_Job]], None]]:
        """Run the sender's event loop in a thread; yields ``send(jobs)`` for the main thread.

        On exit the sends still in flight finish (up to STOP_WAIT_S; run() has
        normally waited for them and recorded them already), connections close
        and the loop ends.
        """
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="varsla-send", daemon=True)
        thread.start()
        self._loop = loop

        def send(jobs: list[_Job]) -> None:
            loop.call_soon_threadsafe(self._start, jobs)

        try:
            yield send
        finally:
            try:
                asyncio.run_coroutine_threadsafe(self._finish(), loop).result(STOP_WAIT_S)
            except Exception:
                logger.exception("stopping the sender failed")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_WAIT_S)
            self._loop = None
            if not thread.is_alive():
                loop.close()

    def _start(self, jobs: list[_Job]) -> None:
        """On the loop: queue the jobs and wake as many idle sending tasks."""
        # Long-lived tasks rather than one task per job behind a semaphore: a task, its
        # context and the semaphore's waiter list for every message were a fifth of the
        # sender's CPU.
        if not self._senders:
            loop = asyncio.get_running_loop()
            self._senders = [
                loop.create_task(self._sending()) for _ in range(max(1, self.settings.concurrency))
            ]
        self._queue.extend(jobs)
        idle = self._idle
        for _ in range(min(len(jobs), len(idle))):
            waiter = idle.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def _sending(self) -> None:
        """One sending task: send queued jobs one after the other, hand over each report."""
        loop = asyncio.get_running_loop()
        queue, idle = self._queue, self._idle
        while True:
            if not queue:
                waiter = loop.create_future()
                idle.append(waiter)
                await waiter
                continue
            report = await self._send_one(queue.popleft())
            self._done.append(report)
            if len(self._done) == 1:
                loop.call_soon(self._hand_over)

    async def _finish(self) -> None:
        deadline = time.monotonic() + STOP_WAIT_S
        while (self._queue or len(self._idle) < len(self._senders)) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.01)
        senders, self._senders = self._senders, []
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        self._idle.clear()
        await self._close_channels()

    def _hand_over(self) -> None:
        """On the loop, after the sends that finished in this iteration: one list for all."""
        done, self._done = self._done, []
        if done:
            self._results.put(done)

    async def _send_one(self, job: _Job) -> SendReport:
        claimed = job.claimed
        name = claimed.channel
        recipient = message = None
        local_only = False
        try:
            recipient, message = self.composer.compose(
                job.snapshot,
                name,
                address=claimed.address,
                language=claimed.language,
                subscriber_id=claimed.subscriber_id,
                reference=make_reference(claimed.id, claimed.attempt),
                manage_version=claimed.manage_version,
            )
            channel = self._channels.get(name) or self._channel(name)
            local_only = channel.local_only
            limiter = self.limiters.get(name)
            # A token at hand (or no limit) is taken without another coroutine.
            if (
                limiter is not None
                and not limiter.try_acquire()
                and not await limiter.acquire_async(self.stop_event)
            ):
                result = DeliveryResult(
                    Outcome.RETRY, error_code="shutdown", error="worker stopped"
                )
            else:
                if self.first_send_at is None:
                    self.first_send_at = time.time()
                result = await channel.send_async(recipient, message)
                if self.metrics is not None:
                    self._send_seconds(name).observe(result.duration_s)
                    if result.outcome is not Outcome.ACCEPTED:
                        code = (result.error_code or "unknown")[:40]
                        self.metrics.provider_errors.labels(name, code).inc()
        except Exception as exc:  # composing failed: a bug, not the resident's fault
            logger.exception("delivery %s: could not compose or send", claimed.id)
            result = DeliveryResult(Outcome.RETRY, error_code="exception", error=repr(exc))
        return SendReport(claimed, result, recipient, message, local_only)

    def _send_seconds(self, channel: str) -> Histogram:
        """The send-duration histogram of ``channel``, looked up once (``labels`` takes a lock
        and checks its arguments on every call)."""
        child = self._send_seconds_of.get(channel)
        if child is None:
            assert self.metrics is not None
            child = self._send_seconds_of[channel] = self.metrics.send_seconds.labels(channel)
        return child

    async def _close_channels(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            try:
                await channel.close_async()
            except Exception:
                logger.exception("closing %s failed", channel.name)

    def close_channels(self) -> None:
        """Close connections held across batches (SMTP sessions, HTTP pools); the next send
        opens them again."""
        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close_channels(), loop).result(STOP_WAIT_S)

    # --- database (main thread only) ----------------------------------------------

    def _snapshot(
        self, session: Session, revision_id: int, *, exercise: bool = False
    ) -> NoticeSnapshot:
        key = (revision_id, exercise)
        snapshot = self._snapshots.get(key)
        if snapshot is None:
            revision = session.get(NoticeRevision, revision_id)
            assert revision is not None
            snapshot = build_snapshot(session, revision.notice, revision, exercise=exercise)
            if snapshot.msg_type != "Cancel" and snapshot.status == "cancelled":
                # Only the all-clear itself reads as one; an earlier revision is what it was.
                snapshot = dataclasses.replace(snapshot, status="active")
            if len(self._snapshots) > 1024:
                self._snapshots.clear()
            self._snapshots[key] = snapshot
        return snapshot

    def _claim(self, limit: int) -> list[_Job]:
        with self.sessions() as session, session.begin():
            claimed = claim_batch(session, self.owner, limit, lease_s=self.settings.lease_s)
            jobs = [
                _Job(c, self._snapshot(session, c.revision_id, exercise=c.exercise))
                for c in claimed
            ]
        return jobs

    def _record(self, reports: list[SendReport]) -> None:
        started = time.perf_counter()
        for attempt in (1, 2, 3):
            tally: Counter[tuple[str, str]] = Counter()
            try:
                with self.sessions() as session, session.begin():
                    counts = apply_reports(
                        session, self.owner, reports, self.settings.retry, tally=tally
                    )
                break
            except Exception:
                # The sends happened; losing their outcome would re-send them after the
                # lease expires. Try again before giving up on this batch.
                logger.exception("recording %d outcomes failed (attempt %d)", len(reports), attempt)
                if attempt == 3:
                    raise
                time.sleep(0.5 * attempt)
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        if self.metrics is not None:
            for (channel, status), value in tally.items():
                self.metrics.outcomes.labels(channel, status).inc(value)
            self.metrics.batches.inc()
        logger.info(
            "dispatch batch: %d outcomes recorded %s",
            len(reports),
            counts,
            extra={
                "event": "dispatch_batch",
                "worker": self.owner,
                "batch": len(reports),
                "outcomes": counts,
                "channels": dict(Counter(r.claimed.channel for r in reports)),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        retried = Counter(
            f"{r.claimed.channel} {r.result.error_code}"
            for r in reports
            if r.result.outcome is Outcome.RETRY
        )
        if retried:
            # An unreachable provider or a wrong credential shows up here first, long
            # before the attempts run out.
            logger.warning("%d sends will be retried: %s", retried.total(), dict(retried))

    def _reclaim(self) -> None:
        with self.sessions() as session, session.begin():
            reclaim_expired(session, max_attempts=self.settings.retry.max_attempts)

    def _renew(self) -> None:
        """Extend the leases this worker holds, so a slow provider or a busy host never
        makes a live worker look dead (its rows would then be sent twice)."""
        with self.sessions() as session, session.begin():
            renew_leases(session, self.owner, lease_s=self.settings.lease_s)

    def _expand(self) -> bool:
        """Write one chunk of the most urgent fan-out job; whether there was one. Between
        claims, so the first chunk's rows are being sent while the next is written."""
        try:
            with self.sessions() as session, session.begin():
                expanded = fanout.expand_next(
                    session, self.owner, chunk=self.settings.fanout_chunk, cache=self._fanout_cache
                )
        except DATABASE_ERRORS:
            raise
        except fanout.ChunkFailed as failed:
            # A bug or a record it cannot write: the job waits, the others and the sends
            # go on.
            logger.error("%s", failed, exc_info=failed.cause)
            with self.sessions() as session, session.begin():
                fanout.record_failure(session, failed.job_id, str(failed))
            return False
        return expanded is not None

    def due_or_busy(self, within_s: float = 0.0) -> bool:
        """Whether anything is pending (due within ``within_s``), being sent or to fan out."""
        with self.sessions() as session:
            horizon = utcnow() + timedelta(seconds=within_s)
            open_job = session.scalar(
                select(FanoutJob.id)
                .where(
                    FanoutJob.state.in_([FanoutState.PENDING, FanoutState.EXPANDING]),
                    (FanoutJob.retry_at.is_(None)) | (FanoutJob.retry_at <= horizon),
                )
                .limit(1)
            )
            if open_job is not None:
                return True
            row = session.scalar(
                select(Delivery.id)
                .where(
                    (Delivery.status == DeliveryStatus.SENDING)
                    | (
                        (Delivery.status == DeliveryStatus.PENDING)
                        & (Delivery.not_before <= horizon)
                    )
                )
                .limit(1)
            )
            return row is not None

    # --- the loop ------------------------------------------------------------------

    def run(
        self,
        *,
        until_idle: bool = False,
        idle_wait_s: float = 0.0,
        should_stop: Callable[[], bool] | None = None,
    ) -> dict[str, int]:
        """Dispatch until ``stop()`` (or, with ``until_idle``, until nothing is due).

        ``idle_wait_s`` with ``until_idle``: keep going while a retry falls due
        within that many seconds (tests drain retries with a short backoff).
        """
        settings = self.settings
        # Claimed ahead, so the sender never starves, in batches of a useful size: a claim
        # costs a transaction and a few queries whatever its size, so topping up the
        # window a handful of rows at a time made the main thread the bottleneck.
        window = max(settings.concurrency + settings.batch_size, 1)
        top_up = max(1, min(settings.batch_size, window // 2))
        inflight = 0
        reports: list[SendReport] = []
        last_flush = last_renew = time.monotonic()
        last_reclaim = -settings.reclaim_every_s  # reclaim first thing
        fanning, last_fanout = False, -settings.poll_s  # fan-out jobs first thing
        idle_since: float | None = None
        outage_since: float | None = None
        outage_tries = 0
        with (
            self.app.app_context(),
            wake_on_new_deliveries(self.wake, db.engine),
            self._sender() as send,
        ):
            while not self.stop_event.is_set() and not (should_stop and should_stop()):
                try:
                    now = time.monotonic()
                    if now - last_reclaim >= settings.reclaim_every_s:
                        self._reclaim()
                        last_reclaim = now
                    if inflight and now - last_renew >= settings.lease_s / 3:
                        self._renew()
                        last_renew = now
                    # A fan-out job is looked for when woken (a publish), while one is being
                    # expanded, and at every poll (a job whose worker died or whose chunk
                    # waits for a retry). While sending, as seldom as dead workers' leases
                    # are: the look was a transaction every half second per worker.
                    poll_s = settings.reclaim_every_s if inflight else settings.poll_s
                    if fanning or self.wake.is_set() or now - last_fanout >= poll_s:
                        self.wake.clear()  # the claim below takes what it announced too
                        fanning, last_fanout = self._expand(), now
                    jobs: list[_Job] = []
                    room = window - inflight
                    if room >= top_up or (inflight == 0 and room > 0):
                        jobs = self._claim(min(room, settings.batch_size))
                        if jobs:
                            send(jobs)
                        inflight += len(jobs)
                    # Collect results; block briefly only when there is nothing else to do.
                    try:
                        block = not jobs and inflight > 0
                        while True:
                            done = self._results.get(block=block, timeout=0.02 if block else None)
                            reports.extend(done)
                            inflight -= len(done)
                            block = False
                    except queue.Empty:
                        pass
                    if reports and (
                        len(reports) >= settings.batch_size
                        or inflight == 0
                        or time.monotonic() - last_flush >= settings.flush_every_s
                    ):
                        self._record(reports)
                        reports = []
                        last_flush = time.monotonic()
                    if not jobs and inflight == 0 and not reports and not fanning:
                        if until_idle and not self.due_or_busy(idle_wait_s):
                            break
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since > 10:
                            self.close_channels()  # do not hold SMTP sessions open while idle
                            idle_since = None
                        self.wake.wait(settings.poll_s)
                        self.wake.clear()  # before claiming: a wake-up after this one is kept
                        last_fanout = -settings.poll_s  # and a publish's fan-out job at once
                    else:
                        idle_since = None
                except DATABASE_ERRORS as exc:
                    # The database restarts or fails over: keep what is in flight and the
                    # outcomes not yet recorded, and carry on once it answers again (leases
                    # last VARSLA_LEASE_S, so nobody else sends these rows meanwhile).
                    if outage_since is None:
                        outage_since = time.monotonic()
                        logger.warning(
                            "database unavailable (%s); %d sends in flight, %d outcomes to "
                            "record; retrying",
                            exc.__class__.__name__,
                            inflight,
                            len(reports),
                        )
                    self.stop_event.wait(
                        min(5.0, settings.outage_wait_s * 2 ** min(outage_tries, 4))
                    )
                    outage_tries += 1
                    continue
                if outage_since is not None:
                    logger.warning(
                        "database available again after %.1f s", time.monotonic() - outage_since
                    )
                    outage_since, outage_tries = None, 0
            # Stopping: let the sender finish what it holds, and record it.
            while inflight > 0:
                done = self._results.get()
                reports.extend(done)
                inflight -= len(done)
            if reports:
                self._record(reports)
        return dict(self.counts)

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()


def start_embedded(app: Flask) -> Callable[[], None]:
    """The dispatcher inside ``varsla serve``: one thread (the SQLite default).

    Returns the function that stops it: sends in flight finish and are recorded, so a
    restart neither loses nor repeats them.
    """
    # The same bound as a worker's: sends wait on the provider, not on SQLite (only this
    # thread writes), and 4 in flight held a 100 ms provider to 39 SMS/s, below the
    # default rate.
    dispatcher = Dispatcher(app, DispatcherSettings.from_app(app))

    def run() -> None:
        while not dispatcher.stop_event.is_set():
            try:
                dispatcher.run()
            except Exception:
                logger.exception("embedded dispatcher failed; restarting in 5 s")
                dispatcher.stop_event.wait(5)

    thread = threading.Thread(target=run, name="varsla-dispatcher", daemon=True)
    thread.start()
    logger.info("embedded dispatcher started (%s)", dispatcher.owner)

    def stop() -> None:
        dispatcher.stop()
        thread.join(timeout=STOP_WAIT_S)

    return stop
