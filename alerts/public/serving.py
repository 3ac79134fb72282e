"""Serving public answers from bytes rendered once per content change.

Every public read (feeds, CAP index, banner, ``/api/v1/active``, home and notice
pages) goes through :func:`serve`: the content version
(:func:`alerts.public.readpath.content_version`, one indexed query) says whether
the cached bytes are current; if the client already has the answer's ETag it gets
a 304, else the cached bytes; only a new version (or a passing expiry/retention
moment, see :func:`~alerts.public.readpath.next_time_change`) renders again. Each
web worker keeps its own cache and renders once per change; the ETag is a
hash of the bytes, so every worker answers the same ETag for the same content.
``Cache-Control: public, max-age=…`` lets a reverse proxy or CDN absorb polls.

A process trusts the version it last read for ``VARSLA_PUBLIC_VERSION_TTL_MS``
(1 s) before asking again, and at once forgets it when it commits a write itself
(a publish in this process shows on its very next read); a change committed by
another process or host shows within that time, well inside the ``max-age`` a
proxy already serves stale for. :class:`FastPath` answers a request whose bytes
are cached and current before Flask sees it, with the headers Flask gave the
same request last time (a fresh ``X-Request-ID``; the request is counted in
``varsla_http_requests``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, request
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session

from alerts.config import settings
from alerts.extensions import db
from alerts.public import readpath
from alerts.web.observability import HTTP_LABELS, REQUEST_ID_HEADER, metrics_of
from channels.feeds import feed_validators

logger = logging.getLogger(__name__)

MAX_AGE_S = 60
CACHE_SIZE = 512
HOT_SIZE = 4096

# --- this process's own writes ---------------------------------------------------------

_writes = [0]  # commits with writes in this process (a list: bumped from event hooks)
_WROTE = "varsla_public_wrote"


def _on_flush(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        state.session.info[_WROTE] = True


def _on_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        _writes[0] += 1


def _on_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)


def watch_writes() -> None:
    """Count this process's commits that wrote anything (once per process)."""
    if not event.contains(Session, "after_commit", _on_commit):
        event.listen(Session, "after_flush", _on_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "after_commit", _on_commit)
        event.listen(Session, "after_rollback", _on_rollback)


@dataclass(frozen=True)
class Generation:
    """What cached bytes were rendered against: the version and the next time-based change."""

    version: readpath.ContentVersion
    until: datetime | None  # the bytes are stale from this moment even without a write


@dataclass(frozen=True)
class Cached:
    body: bytes
    etag: str
    last_modified: str
    cache_control: str


class ReadCache:
    """One process's rendered public answers for the current generation."""

    def __init__(self, size: int = CACHE_SIZE, version_ttl_s: float = 1.0) -> None:
        self.size = size
        self.version_ttl_s = version_ttl_s
        self.renders = 0  # how many answers were rendered (tests count them)
        self.store = readpath.NoticeStore()
        self.engine: Engine | None = None  # for FastPath, which runs outside Flask
        self._generation: Generation | None = None
        self._checked = (-1e9, -1)  # (monotonic time, writes seen) of the last version read
        self._items: dict[tuple, Cached] = {}
        #: Anything else worth keeping for the generation (e.g. which notices a feed shows).
        self.memo: dict[tuple, Any] = {}
        #: Answers FastPath may give without Flask: (path, query[, cookie]) -> Hot.
        self.hot: dict[tuple, Hot] = {}
        self._rendering: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def trusted(self, now: datetime) -> Generation | None:
        """The current generation if it may be used without asking the database."""
        current = self._generation
        if current is None or (current.until is not None and now >= current.until):
            return None
        checked_at, writes = self._checked
        if writes != _writes[0] or time.monotonic() - checked_at >= self.version_ttl_s:
            return None
        return current

    def generation(self, now: datetime, executor: Any = None) -> Generation:
        """The current generation: at most one version query (a second when it moved on)."""
        trusted = self.trusted(now)
        if trusted is not None:
            return trusted
        executor = executor if executor is not None else db.session
        writes = _writes[0]
        version = readpath.content_version(executor)
        current = self._generation
        if (
            current is not None
            and current.version == version
            and (current.until is None or now < current.until)
        ):
            self._checked = (time.monotonic(), writes)
            return current
        until = readpath.next_time_change(executor, include_ended_days=self.retention_days, now=now)
        fresh = Generation(version, until)
        with self._lock:
            if self._generation != fresh:
                self._generation = fresh
                self._items = {}
                self.memo = {}
                self.hot = {}
            self._checked = (time.monotonic(), writes)
        return fresh

    retention_days: float = 7.0

    def rendering(self, key: tuple) -> threading.Lock:
        """The lock held while ``key`` renders (single flight within the process)."""
        with self._lock:
            lock = self._rendering.get(key)
            if lock is None:
                if len(self._rendering) > self.size:
                    self._rendering.clear()
                lock = self._rendering[key] = threading.Lock()
            return lock

    def get(self, key: tuple) -> Cached | None:
        return self._items.get(key)

    def put(self, key: tuple, cached: Cached) -> None:
        with self._lock:
            if key[0] != self._generation:
                return  # a newer generation started while rendering
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = cached
            self.renders += 1


def read_cache(app: Flask | None = None) -> ReadCache:
    """The app's read cache (one per process)."""
    app = app or current_app
    cache = app.extensions.get("varsla_read_cache")
    if cache is None:
        config = settings(app)
        cache = ReadCache(version_ttl_s=config.public_version_ttl_ms / 1000)
        cache.retention_days = config.feed_retention_days
        app.extensions["varsla_read_cache"] = cache
    return cache


@dataclass(frozen=True)
class Rendered:
    """What a render answers: the body, its own date and how long it may be cached."""

    body: bytes
    modified: datetime
    max_age: int = MAX_AGE_S
    immutable: bool = False


def serve(
    variant: tuple,
    mimetype: str,
    render: Callable[[datetime], Rendered],
    *,
    cors: bool = True,
    vary: tuple[str, ...] = (),
    by_cookie: bool = False,
) -> Response:
    """The answer for ``variant`` (every input that changes the bytes: kind, language,
    zone, page...) from the cache, rendering it with ``render(now)`` on a miss.

    ``Last-Modified`` is the newest of the body's own date, the last write and the
    last time-based change (an expiry passing, a notice leaving the window): a
    list can change by losing an entry, and a poller that sends only
    ``If-Modified-Since`` must not get a 304 then.
    """
    cache = read_cache()
    now = datetime.now(UTC)
    generation = cache.generation(now)
    key = (generation, *variant)
    cached = cache.get(key)
    if cached is None:
        # One thread renders; the worker's other threads asking the same wait for it.
        with cache.rendering(key):
            cached = cache.get(key) or _render(cache, key, generation, render, now)
    if cache.engine is None:
        cache.engine = db.engine
    rule = request.url_rule
    request.environ[HOT_ENVIRON] = (generation, cached, by_cookie, rule.rule if rule else "")
    return respond(cached, mimetype, cors=cors, vary=vary)


def _render(
    cache: ReadCache,
    key: tuple,
    generation: Generation,
    render: Callable[[datetime], Rendered],
    now: datetime,
) -> Cached:
    result = render(now)
    floor = readpath.last_time_change(db.session, include_ended_days=cache.retention_days, now=now)
    version = generation.version
    modified = max(
        t
        for t in (result.modified, floor, version.notices_changed, version.zones_changed)
        if t is not None
    )
    etag, http_date = feed_validators(result.body, modified)
    control = f"public, max-age={result.max_age}" + (", immutable" if result.immutable else "")
    cached = Cached(result.body, etag, http_date, control)
    cache.put(key, cached)
    return cached


def respond(
    cached: Cached, mimetype: str, *, cors: bool = True, vary: tuple[str, ...] = ()
) -> Response:
    """``cached`` as a response, or a 304 without body when the client has it."""
    if request.if_none_match:
        fresh = request.if_none_match.contains(cached.etag.strip('"'))
    elif request.if_modified_since:
        stamp = datetime.strptime(cached.last_modified, "%a, %d %b %Y %H:%M:%S GMT")
        fresh = request.if_modified_since >= stamp.replace(tzinfo=UTC)
    else:
        fresh = False
    response = Response(
        b"" if fresh else cached.body,
        status=304 if fresh else 200,
        content_type=f"{mimetype}; charset=utf-8",
    )
    headers = response.headers
    headers["ETag"] = cached.etag
    headers["Last-Modified"] = cached.last_modified
    headers["Cache-Control"] = cached.cache_control
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"
    for name in vary:
        response.vary.add(name)
    if fresh:
        headers.pop("Content-Length", None)
        headers.pop("Content-Type", None)
    return response


# --- answering without Flask -------------------------------------------------------------

HOT_ENVIRON = "varsla.public.cached"


@dataclass(frozen=True)
class Hot:
    """A cached answer with the headers Flask sent with it."""

    generation: Generation
    body: bytes
    etag: str
    headers: list[tuple[str, str]]  # without Content-Length and X-Request-ID
    endpoint: str
    counters: dict[str, Any] = field(default_factory=dict)  # labelled, per status


def _key(environ: dict[str, Any], by_cookie: bool) -> tuple:
    path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
    return (path, query, environ.get("HTTP_COOKIE", "")) if by_cookie else (path, query)


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags or "*" in tags


class FastPath:
    """WSGI middleware: answers a GET whose bytes are cached and current (200, or 304
    for its ETag) without going through Flask; anything else goes to the app."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET":
            answer = self._answer(environ, start_response)
            if answer is not None:
                return answer
            return self._through_flask(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ: dict[str, Any], start_response: Callable) -> list[bytes] | None:
        cache: ReadCache | None = self.app.extensions.get("varsla_read_cache")
        if cache is None or cache.engine is None or not cache.hot:
            return None
        hot = cache.hot.get(_key(environ, False)) or cache.hot.get(_key(environ, True))
        if hot is None:
            return None
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is None and environ.get("HTTP_IF_MODIFIED_SINCE"):
            return None  # rare: Flask compares the dates
        now = datetime.now(UTC)
        generation = cache.trusted(now)
        if generation is None:
            try:
                with cache.engine.connect() as connection:
                    generation = cache.generation(now, connection)
            except Exception:  # the database is away: let Flask answer (and log) it
                logger.exception("content version check failed")
                return None
        if generation is not hot.generation:
            return None
        fresh = if_none_match is not None and _matches(if_none_match, hot.etag)
        request_id = environ.get("HTTP_X_REQUEST_ID", "")
        if not _safe_id(request_id):
            request_id = uuid.uuid4().hex
        if fresh:
            headers = [
                (k, v)
                for k, v in hot.headers
                if k.lower() not in ("content-type", "content-length")
            ]
            status, body = "304 NOT MODIFIED", b""
        else:
            headers = [*hot.headers, ("Content-Length", str(len(hot.body)))]
            status, body = "200 OK", hot.body
        headers.append((REQUEST_ID_HEADER, request_id))
        counted = hot.counters.get(status[:3])
        if counted is None:
            counted = hot.counters[status[:3]] = (
                metrics_of(self.app)
                .counter(
                    "varsla_http_requests",
                    "HTTP requests by endpoint, method and status.",
                    HTTP_LABELS,
                )
                .labels(hot.endpoint, "GET", status[:3])
            )
        counted.inc()
        start_response(status, headers)
        return [body]

    def _through_flask(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        cached = environ.get(HOT_ENVIRON)
        if cached is not None and str(seen.get("status", "")).startswith("200"):
            headers = seen["headers"]
            if not any(k.lower() == "set-cookie" for k, _ in headers):
                generation, entry, by_cookie, endpoint = cached
                kept = [
                    (k, v)
                    for k, v in headers
                    if k.lower() not in ("content-length", REQUEST_ID_HEADER.lower())
                ]
                cache: ReadCache = self.app.extensions["varsla_read_cache"]
                with cache._lock:
                    current = cache._generation
                    if current is not None and current is generation:
                        if len(cache.hot) >= HOT_SIZE:
                            cache.hot.pop(next(iter(cache.hot)))
                        cache.hot[_key(environ, by_cookie)] = Hot(
                            current, entry.body, entry.etag, kept, endpoint
                        )
        return result


def _safe_id(value: str) -> bool:
    """The caller's X-Request-ID is echoed when it is a plain token (as observability does)."""
    return bool(value) and len(value) <= 128 and all(c.isalnum() or c in "._:@/+=-" for c in value)


def init_app(app: Flask) -> None:
    """Count this process's writes and answer cached public reads before Flask."""
    watch_writes()
    app.wsgi_app = FastPath(app, app.wsgi_app)  # type: ignore[method-assign]
