"""Scripted provider outages for fault tests and bench/faults.py.

:class:`Outage` replaces a :class:`~tests.fakes.twilio_server.FakeTwilio`'s
per-number ``faults`` with one that, while ``mode`` is set ("500", "503",
"timeout"), applies that fault to every number, and counts the requests that
reached the provider during the outage and after it. The fake consults its
faults once per valid POST, so the count is the number of send attempts.
"""

from __future__ import annotations

import threading
import time


class Outage(dict):
    """``fake.faults = Outage()``; ``start("500")``, ``end()``; counts requests per phase."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mode: str | None = None
        self._lock = threading.Lock()
        self.during = 0
        self.outside = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._first_request = threading.Event()

    def start(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            self.started_at = self.started_at or time.monotonic()

    def end(self) -> None:
        with self._lock:
            self.mode = None
            self.ended_at = time.monotonic()

    def get(self, key, default=None):
        self._first_request.set()
        with self._lock:
            if self.mode is not None:
                self.during += 1
                return self.mode
            self.outside += 1
        return super().get(key, default)

    def schedule(
        self, phases: list[tuple[str | None, float]], *, from_first_request: bool = False
    ) -> threading.Thread:
        """Run ``[(mode, seconds), ...]`` in a thread (None: provider healthy), then end.

        ``from_first_request``: the first phase's clock starts at the first request, not
        now, so a dispatcher slow to start on a busy machine still meets the whole outage.
        """

        def run() -> None:
            if from_first_request:
                self._first_request.wait(60)
            for mode, seconds in phases:
                if mode is None:
                    self.end()
                else:
                    self.start(mode)
                time.sleep(seconds)
            self.end()

        thread = threading.Thread(target=run, name="outage", daemon=True)
        thread.start()
        return thread
