"""Keep the dashboard's daily summaries fresh on a schedule, one process at a time.

Every ``interval`` seconds the refresher looks (in a reader transaction: no lock taken) whether facts
were stored since the last refresh; if so it takes the ``summaries`` lease
(:mod:`siyu.analytics.lease`), refreshes incrementally in a writer transaction of its own
(:func:`siyu.analytics.refresh.refresh`, under the identity-graph lock like any refresh) and gives
the lease back. Several server processes (``siyu serve --workers N``, several hosts on one
PostgreSQL) therefore take turns: while one refreshes, the others skip their turn instead of
queueing on the lock. It runs in a daemon thread of ``siyu serve`` (requests are served by other
threads meanwhile; a refresh that took the SQLite write lock delays writers, never readers) or in the
foreground with ``siyu worker``. A store whose summaries were never built and that is large is left to
``siyu analytics refresh --full``, as the dashboard does. With a :class:`ScoreSchedule`, each turn then
writes the customer scores back when they are due (``SIYU_SCORES_REFRESH_SECONDS``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine

from siyu.analytics import lease
from siyu.analytics import refresh as summaries
from siyu.db.engine import unit_of_work
from siyu.kit.time import utcnow
from siyu.worker.scores import ScoreSchedule

log = structlog.get_logger("siyu.worker")
LEASE = "summaries"
LEASE_TTL = timedelta(minutes=30)  # longer than any incremental refresh; a dead holder's turn ends with it


class SummaryRefresher:
    """Refreshes the summaries every ``interval`` seconds (:meth:`start` in a thread, :meth:`run` in the foreground)."""

    def __init__(self, engine: Engine, tz: ZoneInfo, interval: float, scores: ScoreSchedule | None = None) -> None:
        self.engine, self.tz, self.interval, self.scores = engine, tz, interval, scores
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> summaries.RefreshResult | None:
        """Refresh if facts were stored since the last refresh and no other process is refreshing; return what it did."""
        with unit_of_work(self.engine, write=False) as reader:
            if not summaries.is_stale(reader):
                return None
            if summaries.too_large_to_build(reader):
                log.warning("summaries_not_built", hint="run `siyu analytics refresh --full` once")
                return None
        with unit_of_work(self.engine) as s:
            if not lease.acquire(s, LEASE, self.holder, LEASE_TTL, utcnow()):
                log.info("summaries_refresh_skipped", reason="another process is refreshing")
                return None
        started = time.perf_counter()
        try:
            with unit_of_work(self.engine) as s:
                result = summaries.refresh(s, self.tz)
        finally:
            with unit_of_work(self.engine) as s:
                lease.release(s, LEASE, self.holder, utcnow())
        log.info("summaries_refreshed", days=result.days, customers=result.customers, full=result.full,
                 ms=round((time.perf_counter() - started) * 1000, 1))
        return result

    def run(self) -> None:
        """Refresh every ``interval`` seconds until :meth:`stop` (an error is logged, and the next turn tried)."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed turn must not end the schedule; the next one retries
                log.exception("summaries_refresh_failed")
            try:
                if self.scores is not None and not self._stop.is_set():
                    self.scores.run_once()  # the scores' write-back (worker/scores.py), when due
            except Exception:  # noqa: BLE001 - as above; the run is recorded as failed
                log.exception("scores_write_back_failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Run the schedule in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="siyu-summaries", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the schedule (after the refresh under way, if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
