"""Serving public answers from bytes rendered once per content change.

Every public read (feeds, CAP index, banner, ``/api/v1/active``, home and notice
pages) goes through :func:`serve`: one query reads the content version
(:func:`alerts.public.readpath.content_version`); if the client already has the
answer's ETag it gets a 304 straight away, else it gets the cached bytes; only a
new version (or a passing expiry/retention moment, see
:func:`~alerts.public.readpath.next_time_change`) renders again. Each gunicorn
worker keeps its own cache and renders once per change; the ETag is a hash of
the bytes, so every worker answers the same ETag for the same content.
``Cache-Control: public, max-age=…`` lets a reverse proxy or CDN absorb polls.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, request

from alerts.config import settings
from alerts.extensions import db
from alerts.public import readpath
from channels.feeds import feed_validators

logger = logging.getLogger(__name__)

MAX_AGE_S = 60
CACHE_SIZE = 512


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

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.renders = 0  # how many answers were rendered (tests count them)
        self.store = readpath.NoticeStore()
        self._generation: Generation | None = None
        self._items: dict[tuple, Cached] = {}
        #: Anything else worth keeping for the generation (e.g. which notices a feed shows).
        self.memo: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def generation(self, now: datetime) -> Generation:
        """The current generation: one version query; a second only when it moved on."""
        session = db.session
        version = readpath.content_version(session)
        current = self._generation
        if (
            current is not None
            and current.version == version
            and (current.until is None or now < current.until)
        ):
            return current
        until = readpath.next_time_change(
            session, include_ended_days=settings().feed_retention_days, now=now
        )
        fresh = Generation(version, until)
        with self._lock:
            if self._generation != fresh:
                self._generation = fresh
                self._items = {}
                self.memo = {}
        return fresh

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
    return app.extensions.setdefault("varsla_read_cache", ReadCache())


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
        result = render(now)
        session = db.session
        floor = readpath.last_time_change(
            session, include_ended_days=settings().feed_retention_days, now=now
        )
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
    return respond(cached, mimetype, cors=cors, vary=vary)


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


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
