"""A token bucket: at most ``rate`` sends per second on average, bursts up to ``burst``."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Thread-safe; ``acquire`` blocks (outside the lock) until a token is free.

    A rate of 0 or less means unlimited.
    """

    def __init__(self, rate_per_s: float, burst: float | None = None) -> None:
        self.rate = float(rate_per_s)
        self.capacity = max(1.0, burst if burst is not None else min(self.rate, 50.0))
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Take one token, waiting for it; False when ``stop`` was set while waiting."""
        if self.rate <= 0:
            return True
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return True
                wait = (1 - self._tokens) / self.rate
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                time.sleep(wait)
