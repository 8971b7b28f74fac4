"""Fixtures of the outbox tests: a dispatcher with a controllable clock and a counting adapter."""

from __future__ import annotations

import random
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from siyu.domains.outbox.dispatcher import Dispatcher
from siyu.domains.outbox.ports import Outgoing, SendResult
from siyu.kit.time import UTC

TZ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Tuesday


class CountingAdapter:
    """Remembers every send (thread-safe); optionally fails through ``fail``."""

    idempotent = False

    def __init__(self, channel: str = "wecom", fail: Exception | None = None) -> None:
        self.channel, self.fail = channel, fail
        self.sent: list[Outgoing] = []
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> SendResult:
        """Record the message or raise the configured error."""
        if self.fail is not None:
            raise self.fail
        with self._lock:
            self.sent.append(message)
        return SendResult(provider_ref=f"ref-{message.id}")


def dispatcher(engine: Engine, *adapters: object, holder: str = "w1", batch: int = 50, now: datetime = NOON,
               **kw: object) -> Dispatcher:
    """Return a dispatcher on ``engine`` whose clock stands at ``now``."""
    return Dispatcher(engine, {a.channel: a for a in adapters}, tz=TZ, holder=holder, batch=batch,  # type: ignore[attr-defined]
                      rng=random.Random(7), clock=lambda: now, **kw)  # type: ignore[arg-type]
