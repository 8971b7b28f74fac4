"""The outbox dispatcher's loop: a daemon thread of ``siyu worker --dispatch`` (or the foreground).

Each turn claims a batch (:class:`siyu.domains.outbox.dispatcher.Dispatcher`); when a turn finds
nothing due it sleeps ``SIYU_DISPATCH_IDLE_SECONDS``. Several worker processes may run it at once:
claims never overlap (row locks with SKIP LOCKED on PostgreSQL, the serialised writer on SQLite).
The token buckets are per process, so ``share`` gives this process its fraction of each channel's
calls per minute (``--dispatch-share``, e.g. 0.5 with two workers).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import Engine

from siyu.channels.registry import build_adapters
from siyu.config import Settings
from siyu.domains.outbox.addresses import ContactAddresses
from siyu.domains.outbox.dispatcher import Dispatcher, TurnStats
from siyu.domains.outbox.ratelimit import RateLimiter
from siyu.kit.crypto import PiiVault

log = structlog.get_logger("siyu.worker")


class DispatchLoop:
    """Run dispatcher turns until stopped."""

    def __init__(self, engine: Engine, settings: Settings, *, share: float = 1.0) -> None:
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.dispatcher = Dispatcher(engine, build_adapters(engine, settings), tz=settings.tz, holder=holder,
                                     batch=settings.dispatch_batch, limiter=RateLimiter(share=share),
                                     lease=timedelta(seconds=settings.dispatch_lease_seconds),
                                     addresses=ContactAddresses(PiiVault(settings.effective_secret_key)))
        self.idle = settings.dispatch_idle_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> TurnStats:
        """Dispatch everything due now."""
        return self.dispatcher.drain()

    def run(self) -> None:
        """Dispatch in the foreground until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                stats = self.dispatcher.run_once()
            except Exception:  # a database hiccup must not end the worker: log and try again after a pause
                log.exception("dispatch_turn_failed")
                stats = TurnStats()
            if not stats.claimed:
                self._stop.wait(self.idle)

    def start(self) -> None:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="siyu-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10) -> None:
        """Ask the loop to stop after its current turn."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
