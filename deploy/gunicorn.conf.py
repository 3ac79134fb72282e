"""gunicorn settings for the Varsla web tier (``gunicorn -c deploy/gunicorn.conf.py wsgi:app``).

Environment: ``VARSLA_BIND`` (default 127.0.0.1:8000), ``WEB_CONCURRENCY`` (workers,
default 2 per core), ``PROMETHEUS_MULTIPROC_DIR`` (a folder emptied before start: the
counters of every worker are summed at scrape).
"""

import os

bind = os.environ.get("VARSLA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
threads = 1
timeout = 30
graceful_timeout = 20
keepalive = 5
# nginx on this host sets X-Forwarded-Proto; trust it only from there.
forwarded_allow_ips = os.environ.get("VARSLA_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Varsla logs one line per request itself (VARSLA_LOG_FORMAT=json: with its request id).
accesslog = None
errorlog = "-"


def child_exit(server, worker):
    """A dead worker's live gauges must not count any more."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
