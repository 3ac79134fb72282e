"""Metrics, request ids and structured logs: what the person on call reads.

Metrics are prometheus_client objects kept per app in :class:`Metrics`
(``app.extensions["varsla_metrics"]``), never in module globals: each feature
declares its own in its ``init_app`` through :func:`metrics_of`, and adds
collectors that read the database at scrape time (queue depth, notices by
status) with :meth:`Metrics.add_collector`. With several web workers, set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by the web workers
(and, on the same host, ``varsla worker`` and ``varsla scheduler``): counters
and histograms are then summed over every process at scrape.

Logs: ``VARSLA_LOG_FORMAT=json`` writes one JSON object per line, with the
request id of the request it belongs to. One line is logged per request
(``event=request``) and per recorded dispatch batch (``event=dispatch_batch``).
No line carries personal data: requests are logged by their URL rule (never the
path, which may hold a manage-link token, or the query), and phone numbers and
email addresses in any message are masked as a last line of defence.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from alerts.config import settings

logger = logging.getLogger(__name__)

#: A scrape-time source: reads the database, answers metric families.
SessionCollect = Callable[[Session], Iterable[Metric]]

#: Latency buckets for HTTP requests and provider calls (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "varsla_request_id", default=None
)


def multiprocess_dir() -> str | None:
    """The directory shared by processes whose counters are summed, when set."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]*_(\d+)\.db")


def forget_dead_processes(directory: str) -> None:
    """Drop the live gauges of processes that are gone (a web worker that crashed or was
    replaced), so they stop counting; counters and histograms keep what they counted.

    Done at scrape rather than from a server's worker-exit hook, so it holds whatever
    runs the workers (granian, a restart by systemd). The folder is one host's: its
    file names carry pids of this host.
    """
    pids = set()
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.fullmatch(name)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, under another user


class _SessionCollector(Collector):
    """Runs ``collect(session)`` at scrape in its own short session (no request needed)."""

    def __init__(self, app: Flask, collect: SessionCollect) -> None:
        self.app = app
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        from alerts.extensions import db

        assert db.sessionmaker is not None
        try:
            with self.app.app_context(), db.sessionmaker() as session:
                return list(self._collect(session))
        except Exception as exc:
            # The process's own counters still matter most when the database is away.
            logger.warning(
                "metrics from the database unavailable (%s: %s)",
                exc.__class__.__name__,
                str(exc).splitlines()[0][:200],
            )
            return []

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to check at registration: families are built at scrape


class Metrics:
    """The app's Prometheus metrics: objects features record into, and scrape-time collectors."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.registry = CollectorRegistry()
        self._objects: dict[str, Any] = {}
        self._collectors: list[_SessionCollector] = []

    def _declare(self, kind: type, name: str, documentation: str, labels: Sequence[str], **kw):
        existing = self._objects.get(name)
        if existing is None:
            existing = self._objects[name] = kind(
                name, documentation, list(labels), registry=self.registry, **kw
            )
        return existing

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """The counter ``name`` (declared on first use; the same object afterwards)."""
        return self._declare(Counter, name, documentation, labels)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self._declare(Histogram, name, documentation, labels, buckets=tuple(buckets))

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """A process gauge; under multiprocess the live value of each process is summed."""
        return self._declare(Gauge, name, documentation, labels, multiprocess_mode="livesum")

    def add_collector(self, collect: SessionCollect) -> None:
        """Have ``collect(session)`` answer families at every scrape (database gauges)."""
        if any(c._collect is collect for c in self._collectors):
            return
        collector = _SessionCollector(self.app, collect)
        self._collectors.append(collector)
        self.registry.register(collector)

    def exposition(self) -> bytes:
        """The text exposition: this process's metrics, or every process's under multiprocess."""
        directory = multiprocess_dir()
        if not directory:
            return generate_latest(self.registry)
        forget_dead_processes(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        for collector in self._collectors:
            registry.register(collector)
        return generate_latest(registry)


def serve_metrics(app: Flask, port: int, host: str = "127.0.0.1") -> None:
    """Serve this process's ``/metrics`` on ``host:port`` in a thread (``varsla worker`` and
    ``varsla scheduler`` on hosts without a web process sharing their multiprocess folder)."""
    from prometheus_client import start_http_server

    metrics = metrics_of(app)
    registry = metrics.registry
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)
    logger.info("metrics on http://%s:%d/metrics", host, port)


def metrics_of(app: Flask | None = None) -> Metrics:
    """The metrics of ``app`` (or the current app); features declare theirs through this."""
    target = app if app is not None else current_app
    return target.extensions["varsla_metrics"]


# --- requests ---------------------------------------------------------------------------


def current_request_id() -> str | None:
    return _request_id.get()


def _incoming_request_id() -> str:
    """The caller's X-Request-ID when it is a plain token, else a new one."""
    value = request.headers.get(REQUEST_ID_HEADER, "").strip()
    return value if _SAFE_REQUEST_ID.match(value) else uuid.uuid4().hex


def _endpoint_label() -> str:
    """A bounded label: the URL rule (``/notices/<uuid:notice_id>``), never the path."""
    rule = request.url_rule
    return rule.rule if rule is not None else "(unmatched)"


def _before_request() -> None:
    g.varsla_request_started = time.perf_counter()
    g.varsla_request_id = _incoming_request_id()
    g.varsla_request_id_token = _request_id.set(g.varsla_request_id)


def _after_request(response: Response) -> Response:
    request_id = g.get("varsla_request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("varsla_request_started")
    elapsed = time.perf_counter() - started if started is not None else 0.0
    endpoint = _endpoint_label()
    metrics = metrics_of()
    metrics.counter(
        "varsla_http_requests", "HTTP requests by endpoint, method and status.", HTTP_LABELS
    ).labels(endpoint, request.method, str(response.status_code)).inc()
    metrics.histogram(
        "varsla_http_request_duration_seconds", "HTTP request latency by endpoint.", ["endpoint"]
    ).labels(endpoint).observe(elapsed)
    logger.info(
        "%s %s %d %.1f ms",
        request.method,
        endpoint,
        response.status_code,
        elapsed * 1000,
        extra={
            "event": "request",
            "method": request.method,
            "endpoint": endpoint,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
        },
    )
    return response


def _teardown_request(_exc: BaseException | None) -> None:
    token = g.pop("varsla_request_id_token", None)
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (a streamed response): just clear
            _request_id.set(None)


HTTP_LABELS = ("endpoint", "method", "status")


# --- logs -------------------------------------------------------------------------------

#: Fields of a record's ``extra`` that the JSON format writes out.
EXTRA_FIELDS = (
    "event",
    "method",
    "endpoint",
    "status",
    "duration_ms",
    "worker",
    "batch",
    "outcomes",
    "channels",
    "job",
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
#: International (+46 70…) or national (070-…) numbers: 8 to 17 digits with spaces or
#: hyphens; not a part of a longer token, a date or a time.
_PHONE = re.compile(r"(?<![\w:.\-/+])(?:\+\d{1,3}|0)[\d \-]{6,17}\d(?![\w:\-])")


def redact(text: str) -> str:
    """Mask what looks like an email address or a phone number."""
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, event fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class _VarslaHandler(logging.StreamHandler):
    """The root handler Varsla installs (told apart from pytest's and the host's)."""


def configure_logging(log_format: str, level: int | str) -> None:
    """Install one root handler in ``log_format`` ("text" or "json"); idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _VarslaHandler):
            root.removeHandler(handler)
    if log_format == "json":
        # Other handlers on the root would print the same line again, unstructured.
        for handler in list(root.handlers):
            if type(handler) is logging.StreamHandler:
                root.removeHandler(handler)
        handler = _VarslaHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    elif not root.handlers:
        handler = _VarslaHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)


# --- wiring -----------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Logging in the configured format, the app's metrics, request ids and request logs."""
    configure_logging(settings(app).log_format, app.config.get("LOG_LEVEL", logging.INFO))
    metrics = Metrics(app)
    app.extensions["varsla_metrics"] = metrics
    metrics.counter(
        "varsla_http_requests", "HTTP requests by endpoint, method and status.", HTTP_LABELS
    )
    metrics.histogram(
        "varsla_http_request_duration_seconds", "HTTP request latency by endpoint.", ["endpoint"]
    )
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
