"""Keep segments, rule tags and interest tags current on a schedule, one process at a time.

Every ``interval`` seconds (``SIYU_SEGMENT_REFRESH_SECONDS``) a turn looks, in a reader transaction,
whether facts arrived since the last refresh (:func:`siyu.domains.segments.refresh.pending`) or a
full refresh is due (every ``SIYU_SEGMENT_FULL_REFRESH_SECONDS``, and after each brand-local
midnight, when "in the last 30 days" and "birthday within 7 days" move on). If so it takes the
``segments`` lease (:mod:`siyu.analytics.lease`, as the summaries' refresher does), so several
server processes take turns instead of evaluating the same rules twice. An incremental turn
re-evaluates only the customers whose facts arrived and recomputes their interests; a full one
re-evaluates every customer and every interest.

A turn never holds the write lock while it reads: interests and each rule's answer are worked out in
reader transactions, and written ``WRITE_SLICE`` customers at a time in short writer transactions
with a pause between them (:func:`siyu.db.engine.pause_for_writers`), so requests and ingestion batches (which need the write lock too) wait
at most one slice, not a whole turn (a full turn over 1M customers reads for minutes). Watermarks
are stored last: a turn that dies half way is done again by the next. It runs in a daemon thread
of ``siyu serve`` and in ``siyu worker``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.analytics import interest, lease
from siyu.config import Settings
from siyu.db.bulk import chunks
from siyu.db.engine import pause_for_writers, unit_of_work
from siyu.domains.segments import refresh
from siyu.kit.time import local_day, utcnow

log = structlog.get_logger("siyu.worker")
LEASE = "segments"
LEASE_TTL = timedelta(minutes=30)
WRITE_SLICE = 5_000  # customers per writer transaction: well under a second of SQLite's write lock
T = TypeVar("T")


class TurnStopped(Exception):
    """The refresher was asked to stop in the middle of a turn."""


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
            outcome = self._turn(full, now)
        except TurnStopped:
            log.info("segments_refresh_stopped", reason="the process is stopping; the next turn does it again")
            return None
        finally:
            with unit_of_work(self.engine) as s:
                lease.release(s, LEASE, self.holder, utcnow())
        if outcome is not None:
            log.info("segments_refreshed", full=outcome.full, customers=outcome.customers,
                     entered=sum(outcome.entered.values()), exited=sum(outcome.exited.values()),
                     ms=round(outcome.seconds * 1000, 1))
        return outcome

    def _turn(self, full: bool, now: datetime) -> refresh.Outcome | None:
        """Read the plan, write interests, then each target in dependency order, then the watermarks."""
        started = time.perf_counter()
        with unit_of_work(self.engine, write=False) as reader:
            plan = refresh.plan(reader, self.tz, full=full, now=now)
        if plan is None:
            return None
        outcome = refresh.Outcome(full=plan.full)
        if plan.changed != []:  # interests first: rules that read interest tags then see today's
            with unit_of_work(self.engine, write=False) as reader:
                computed = interest.compute(reader, self.tz, self.interests, customers=plan.changed, now=now)
            for part in chunks(computed.customers, WRITE_SLICE):
                self._write(lambda s, part=part: interest.apply(s, computed, part))
        for target in plan.targets if plan.changed != [] else ():
            with unit_of_work(self.engine, write=False) as reader:
                joined, left = refresh.diff(reader, target, plan.clock, plan.changed)
            if self._write_diff(target, sorted(joined), sorted(left), plan):
                outcome.entered[target.key], outcome.exited[target.key] = len(joined), len(left)
        self._write(lambda s: refresh.finish(s, plan), last=True)
        if plan.changed == []:
            return None
        if plan.changed is not None:
            outcome.customers, outcome.changed = len(plan.changed), plan.changed
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _write_diff(self, target: refresh.Target, joined: list[int], left: list[int], plan: refresh.Plan) -> bool:
        """Write a target's diff a slice at a time and mark it; False if its rule changed meanwhile."""
        at = plan.clock.now
        for start in range(0, max(len(joined), len(left), 1), WRITE_SLICE):
            if not self._write(lambda s, a=joined[start:start + WRITE_SLICE], b=left[start:start + WRITE_SLICE]:
                               refresh.apply(s, target, a, b, at)):
                log.info("segments_target_skipped", target=target.key, reason="its rule changed during the turn")
                return False
        self._write(lambda s: target.mark(s, at, plan.full, len(joined), len(left)))
        return True

    def _write(self, work: Callable[[Session], T], *, last: bool = False) -> T:
        """Run ``work`` in a writer transaction of its own, then give other writers a moment to take the lock."""
        if self._stop.is_set():  # the server is stopping: end the turn here (the next one does it again)
            raise TurnStopped
        with unit_of_work(self.engine) as session:
            result = work(session)
        if not last:
            pause_for_writers(self.engine)
        return result

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
