"""Token buckets per channel, so a worker holds each channel's calls-per-minute limit.

A bucket holds up to one minute's worth of tokens (``rate_per_minute``) and refills continuously;
:meth:`RateLimiter.acquire` takes one token, sleeping until one is there. The clock and the sleep are
injected so tests run without waiting. The limit is per process: with N workers give each 1/N of the
platform's limit (``siyu worker --dispatch-share``), since WeCom counts calls per application.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` banked."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def wait_for_token(self, now: float) -> float:
        """Take a token if one is there (return 0), else return the seconds until one will be."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1 - 1e-9:  # float dust must not make a waiter sleep for nothing forever
            self.tokens = max(0.0, self.tokens - 1)
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per channel; channels without a configured rate are not limited."""

    def __init__(self, per_minute: Mapping[str, int] | None = None, *, share: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 burst_seconds: float = 0.5) -> None:
        self.share, self.clock, self.sleep, self.burst = share, clock, sleep, burst_seconds
        self.buckets: dict[str, TokenBucket] = {}
        self._rates: dict[str, int] = {}
        self._lock = threading.Lock()
        self.configure(per_minute or {})

    def configure(self, per_minute: Mapping[str, int]) -> None:
        """Set the channels' calls per minute (a bucket whose rate is unchanged keeps its tokens)."""
        with self._lock:
            for channel, n in per_minute.items():
                if self._rates.get(channel) == n:
                    continue
                rate = n * self.share / 60.0
                capacity = max(1.0, rate * self.burst)
                self.buckets[channel] = TokenBucket(rate, capacity, capacity, self.clock())
                self._rates[channel] = n
            for channel in set(self.buckets) - set(per_minute):
                del self.buckets[channel], self._rates[channel]

    def acquire(self, channel: str) -> None:
        """Take one call's token for ``channel``, sleeping until the bucket allows it."""
        while True:
            with self._lock:
                bucket = self.buckets.get(channel)
                wait = 0.0 if bucket is None else bucket.wait_for_token(self.clock())
            if wait <= 0:
                return
            self.sleep(wait)
