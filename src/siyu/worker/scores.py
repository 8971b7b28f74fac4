"""Keep the stored scores fresh: a write-back on a schedule, one process at a time.

A turn is due when no write-back (of any status) started in the last ``every`` seconds: a new day,
new facts and the intent window all move on with time, and a failed run is not retried before the
next turn. The due check reads ``score_runs`` in a reader transaction; only then is the ``scores``
lease taken (:mod:`siyu.analytics.lease`), so of several server processes exactly one scores and the
others skip. The run scores as of today in the brand's zone (every fact so far), like
``siyu analyze scores`` without ``--as-of``. It runs inside the summaries' refresher loop
(:class:`siyu.worker.refresher.SummaryRefresher`), after the summaries.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine

from siyu.analytics import lease
from siyu.config import Settings
from siyu.analytics.scores import ScoresResult, write_back
from siyu.db.engine import unit_of_work
from siyu.domains.scores import service
from siyu.kit.time import utcnow

log = structlog.get_logger("siyu.worker")
LEASE = "scores"
LEASE_TTL = timedelta(minutes=30)  # longer than a write-back at a million customers


@dataclass
class ScoreSchedule:
    """Writes the scores back every ``every`` seconds (see the module docstring)."""

    engine: Engine
    data_dir: Path
    tz: ZoneInfo
    every: float
    master: str = "local[2]"

    def __post_init__(self) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def due(self, now: datetime) -> bool:
        """Return whether no write-back started in the last ``every`` seconds."""
        with unit_of_work(self.engine, write=False) as reader:
            latest = service.latest_run(reader, status=None)
        return latest is None or latest.started_at + timedelta(seconds=self.every) <= now

    def run_once(self) -> ScoresResult | None:
        """Write the scores back if due and no other process is doing it; return what it did."""
        now = utcnow()
        if not self.due(now):
            return None
        with unit_of_work(self.engine) as s:
            if not lease.acquire(s, LEASE, self.holder, LEASE_TTL, now):
                log.info("scores_skipped", reason="another process is scoring")
                return None
        try:
            result = write_back(self.engine, self.data_dir, now.astimezone(self.tz).date(), self.tz,
                                trigger="schedule", master=self.master)
        finally:
            with unit_of_work(self.engine) as s:
                lease.release(s, LEASE, self.holder, utcnow())
        log.info("scores_written", as_of=str(result.as_of), customers=result.written, seconds=round(result.seconds, 1))
        return result


def score_schedule(engine: Engine, settings: Settings) -> ScoreSchedule | None:
    """Return the scores' schedule of these settings, or None when ``SIYU_SCORES_REFRESH_SECONDS`` is 0."""
    if settings.scores_refresh_seconds <= 0:
        return None
    return ScoreSchedule(engine, settings.data_dir, settings.tz, settings.scores_refresh_seconds, settings.spark_master)
