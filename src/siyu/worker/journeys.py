"""Run the journey scheduler every ``interval`` seconds: feed triggers, then run due enrolments.

Several workers may run at once (on PostgreSQL on several machines): feeding is taken by one at a
time and batches of enrolments are claimed with SKIP LOCKED (see siyu.domains.journeys.tasks), so
no lease of a whole turn is needed, unlike the segments refresher. It runs in ``siyu worker``.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.journeys import RecordOnlyCouponIssuer
from siyu.domains.journeys.engine import Context
from siyu.domains.journeys.tasks import Tick, tick
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow

log = structlog.get_logger("siyu.worker")


class JourneyScheduler:
    """Ticks the journey scheduler (:meth:`start` in a thread, :meth:`run_once` for cron)."""

    def __init__(self, engine: Engine, settings: Settings, interval: float = 1.0) -> None:
        self.engine, self.interval = engine, interval
        self.context = Context(tz=settings.tz, vault=PiiVault(settings.effective_secret_key),
                               coupons=RecordOnlyCouponIssuer(), settings=settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Tick:
        """Feed triggers and run every due enrolment now."""
        done = tick(lambda: unit_of_work(self.engine), self.context, utcnow())
        if done.enrolled or done.steps or done.exited:
            log.info("journeys_ticked", enrolled=done.enrolled, exited=done.exited, steps=done.steps,
                     batches=done.batches)
        return done

    def run(self) -> None:
        """Tick every ``interval`` seconds until :meth:`stop` (an error is logged and the next tick tried)."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed tick must not end the schedule; the next one retries
                log.exception("journeys_tick_failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Run the schedule in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="siyu-journeys", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the schedule (after the tick under way, if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
