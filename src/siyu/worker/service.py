"""Answer newly ingested customer messages and raise first-response SLA breaches, one process at a time.

Every ``SIYU_SERVICE_POLL_SECONDS`` a turn takes the ``service`` lease (:mod:`siyu.analytics.lease`,
as the other refreshers do), handles the message events above the service watermark in batches, one
writer transaction each (replies to the outbox, hand-off tasks, clocks; see
:mod:`siyu.domains.service.processing`), then gives a task for every clock past its deadline. It runs
in ``siyu worker`` (``--once`` for cron).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import Engine

from siyu.analytics import lease
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains import service
from siyu.kit.time import utcnow

log = structlog.get_logger("siyu.worker")
LEASE = "service"
LEASE_TTL = timedelta(minutes=10)


@dataclass(slots=True)
class Turn:
    """What one turn did."""

    events: int = 0
    answered: int = 0
    handed_off: int = 0
    alerts: int = 0


class ServiceWorker:
    """Processes inbound messages every ``interval`` seconds (:meth:`start` in a thread, :meth:`run_once`)."""

    def __init__(self, engine: Engine, settings: Settings, interval: float | None = None) -> None:
        self.engine, self.tz, self.data_dir = engine, settings.tz, settings.data_dir
        self.interval = settings.service_poll_seconds if interval is None else interval
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, batch: int = 1000) -> Turn | None:
        """Handle every pending message and raise due alerts, unless another process holds the lease."""
        with unit_of_work(self.engine) as s:
            if not lease.acquire(s, LEASE, self.holder, LEASE_TTL, utcnow()):
                return None
        turn = Turn()
        try:
            while not self._stop.is_set():
                with unit_of_work(self.engine) as s:
                    out = service.process_new(s, data_dir=self.data_dir, tz=self.tz, batch=batch)
                turn.events, turn.answered = turn.events + out.events, turn.answered + out.answered
                turn.handed_off += out.handed_off
                if out.events < batch:
                    break
            with unit_of_work(self.engine) as s:
                turn.alerts = service.alert_breaches(s)
        finally:
            with unit_of_work(self.engine) as s:
                lease.release(s, LEASE, self.holder, utcnow())
        if turn.events or turn.alerts:
            log.info("service_turn", events=turn.events, answered=turn.answered, handed_off=turn.handed_off,
                     alerts=turn.alerts)
        return turn

    def run(self) -> None:
        """Take a turn every ``interval`` seconds until :meth:`stop` (a failed turn is logged and retried)."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed turn must not end the schedule; the next one retries
                log.exception("service_turn_failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Run the schedule in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="siyu-service", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the schedule (after the turn under way, if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
