"""Keep segments, rule tags and interest tags current on a schedule, one process at a time.

Every ``interval`` seconds (``SIYU_SEGMENT_REFRESH_SECONDS``) a turn looks, in a reader transaction,
whether facts arrived since the last refresh (:func:`siyu.domains.segments.refresh.pending`) or a
full refresh is due (every ``SIYU_SEGMENT_FULL_REFRESH_SECONDS``, and after each brand-local
midnight, when "in the last 30 days" and "birthday within 7 days" move on). If so it takes the
``segments`` lease (:mod:`siyu.analytics.lease`, as the summaries' refresher does), so several
server processes take turns instead of evaluating the same rules twice, and then, in one writer
transaction: an incremental refresh re-evaluates only the customers whose facts arrived and
recomputes their interests; a full one re-evaluates every customer and every interest.
It runs in a daemon thread of ``siyu serve`` and in ``siyu worker``.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.analytics import interest, lease
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.segments import refresh
from siyu.kit.time import local_day, utcnow

log = structlog.get_logger("siyu.worker")
LEASE = "segments"
LEASE_TTL = timedelta(minutes=30)


class SegmentRefresher:
    """Refreshes segments every ``interval`` seconds (:meth:`start` in a thread, :meth:`run` in the foreground)."""

    def __init__(self, engine: Engine, settings: Settings, interval: float | None = None) -> None:
        self.engine, self.tz = engine, settings.tz
        self.interval = settings.segment_refresh_seconds if interval is None else interval
        self.full_every = timedelta(seconds=settings.segment_full_refresh_seconds)
        self.interests = interest.InterestParams(half_life_days=settings.interest_half_life_days,
                                                 top=settings.interest_top)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def full_due(self, last: datetime | None, now: datetime) -> bool:
        """Return whether every customer must be re-evaluated now."""
        return last is None or now - last >= self.full_every or local_day(last, self.tz) != local_day(now, self.tz)

    def run_once(self, *, force_full: bool = False) -> refresh.Outcome | None:
        """Refresh if something changed or a full refresh is due and no other process is refreshing."""
        now = utcnow()
        with unit_of_work(self.engine, write=False) as reader:
            full = force_full or self.full_due(refresh.last_full(reader), now)
            if not full and not refresh.pending(reader):
                return None
        with unit_of_work(self.engine) as s:
            if not lease.acquire(s, LEASE, self.holder, LEASE_TTL, now):
                log.info("segments_refresh_skipped", reason="another process is refreshing")
                return None
        try:
            with unit_of_work(self.engine) as s:
                outcome = self._turn(s, full, now)
        finally:
            with unit_of_work(self.engine) as s:
                lease.release(s, LEASE, self.holder, utcnow())
        if outcome is not None:
            log.info("segments_refreshed", full=outcome.full, customers=outcome.customers,
                     entered=sum(outcome.entered.values()), exited=sum(outcome.exited.values()),
                     ms=round(outcome.seconds * 1000, 1))
        return outcome

    def _turn(self, session: Session, full: bool, now: datetime) -> refresh.Outcome | None:
        if full:  # interests first: rules that read interest tags then see today's
            interest.refresh(session, self.tz, self.interests, now=now)
            return refresh.refresh_full(session, self.tz, now=now)
        return refresh.refresh_incremental(
            session, self.tz, now=now,
            before=lambda changed: interest.refresh(session, self.tz, self.interests, customers=changed, now=now))

    def run(self) -> None:
        """Refresh every ``interval`` seconds until :meth:`stop` (an error is logged, and the next turn tried)."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed turn must not end the schedule; the next one retries
                log.exception("segments_refresh_failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Run the schedule in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="siyu-segments", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the schedule (after the refresh under way, if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
