"""Running an analysis for a console page: the services the API calls, on a mirror kept fresh in the background.

The analysis pages call :mod:`siyu.analytics` (``rfm``, ``aipl``, ``lifecycle``, ``retention``)
exactly as ``/api/v1/analytics`` does; what differs is how the DuckDB mirror of the embedded store
is brought up to date. The API syncs inside the request (an answer includes every fact committed
before it); a page must not hang for the minutes a first copy of a large store takes. So here:

- **Is the mirror current?** The highest ids of the append-only tables the summaries watch
  (:func:`siyu.analytics.summaries.tops`: events, order facts, relations, group stays, customers,
  merges, audit log; seven primary-key look-ups) are compared with those read before the last sync.
  Equal: nothing was stored since, and the analysis runs on the mirror as it is.
- **If not**, one background thread syncs it (``open_facts`` with its lock, so CLI commands and
  other server processes take turns), and the request waits up to ``wait`` seconds for it: on a
  small store the sync is done by then and the answer is as fresh as the API's. Otherwise the page
  says a sync is running (since when, whether it is the first full copy, how long the last took),
  shows the last result for the same controls if there is one, and asks again every few seconds.
- **Results are remembered** per (page, controls, store fingerprint): viewing the same analysis
  again, or another page's language, costs nothing until a fact arrives.

On PostgreSQL there is no mirror: the tables are read in place, and results are remembered by the
same fingerprint. Every result records when it was computed, on which engine, in how many seconds,
and from the mirror synced when.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.analytics import mirror, summaries
from siyu.analytics.engines import Facts, open_facts
from siyu.kit.time import utcnow

WAIT_SECONDS = 3.0  # a request waits this long for a sync before answering "still syncing"
POLL_SECONDS = 2  # how often a page with a sync running asks again
REMEMBERED = 64  # results kept per server process


@dataclass(frozen=True)
class Computed:
    """An analysis's result and where it came from."""

    value: Any
    engine: str
    computed_at: datetime
    seconds: float
    synced_at: datetime | None  # when the mirror was last brought up to date (None: read in place)


@dataclass(frozen=True)
class Pending:
    """A mirror sync is running; the last result for the same controls, if any, is shown meanwhile."""

    started_at: datetime
    first_copy: bool  # the mirror did not exist: every fact is being copied
    last_seconds: float | None  # how long the previous sync took
    previous: Computed | None
    poll: int = POLL_SECONDS

    @property
    def elapsed(self) -> int:
        """Return the whole seconds the sync has been running."""
        return int((utcnow() - self.started_at).total_seconds())


class SyncFailed(Exception):
    """The background sync of the mirror failed; the page shows why and tries again on the next view."""


class Runner:
    """One per application: the mirror's background sync and the results remembered."""

    def __init__(self, store: Engine, data_dir: Path, master: str, wait: float = WAIT_SECONDS):
        self.store, self.data_dir, self.master, self.wait = store, data_dir, master, wait
        self.embedded = store.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started: datetime | None = None
        self._first_copy = False
        self._synced_at: datetime | None = None
        self._synced_tops: dict[str, int] | None = None
        self._last_seconds: float | None = None
        self._error: str | None = None
        self._results: OrderedDict[tuple[Hashable, ...], Computed] = OrderedDict()
        self._latest: dict[Hashable, Computed] = {}

    def recall(self, session: Session, key: Hashable) -> Computed | None:
        """Return the result remembered for ``key`` on the store as it is now, or None (nothing computed)."""
        remembered = (key, *sorted(summaries.tops(session).items()))
        with self._lock:
            return self._results.get(remembered)

    def run(self, session: Session, key: Hashable, compute: Callable[[Facts], Any],
            wait: float | None = None) -> Computed | Pending:
        """Return ``compute``'s result on facts as current as the store, or Pending while a sync runs.

        A sync is waited for ``wait`` seconds (default: the runner's).
        """
        tops = summaries.tops(session)
        remembered = (key, *sorted(tops.items()))
        with self._lock:
            if remembered in self._results:
                self._results.move_to_end(remembered)
                return self._results[remembered]
        if self.embedded and not self._current(tops, self.wait if wait is None else wait):
            with self._lock:
                return Pending(self._started or utcnow(), self._first_copy, self._last_seconds,
                               self._latest.get(key))
        started = time.perf_counter()
        facts = open_facts(self.store, self.data_dir, master=self.master, sync=False)
        try:
            value = compute(facts)
        finally:
            facts.close()
        result = Computed(value, facts.engine, utcnow(), time.perf_counter() - started, self._synced_at)
        with self._lock:
            self._results[remembered] = self._latest[key] = result
            while len(self._results) > REMEMBERED:
                self._results.popitem(last=False)
        return result

    def settle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a running sync to finish (benchmarks and tests)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _current(self, tops: dict[str, int], wait: float) -> bool:
        """Return whether the mirror holds every fact up to ``tops``, starting a sync (and waiting) if not."""
        with self._lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise SyncFailed(error)
            if self._synced_tops == tops and self._thread is None:
                return True
            if self._thread is None:
                self._first_copy = not mirror.mirror_path(self.data_dir).exists()
                self._started = utcnow()
                self._thread = threading.Thread(target=self._sync, args=(tops,), name="console-mirror-sync",
                                                daemon=True)
                self._thread.start()
            thread = self._thread
        thread.join(wait)
        with self._lock:
            return self._thread is None and self._error is None and self._synced_tops == tops

    def _sync(self, tops: dict[str, int]) -> None:
        started = time.perf_counter()
        try:
            open_facts(self.store, self.data_dir, master=self.master).close()  # its lock, then the sync
        except Exception as exc:  # noqa: BLE001 - shown on the page, retried on the next view
            with self._lock:
                self._error, self._thread = f"{type(exc).__name__}: {exc}", None
            return
        with self._lock:  # tops were read before the sync began, so facts stored meanwhile start another
            self._synced_tops, self._synced_at = tops, utcnow()
            self._last_seconds, self._thread = time.perf_counter() - started, None


_CREATE = threading.Lock()


def runner(request: Request) -> Runner:
    """Return the application's runner (created on first use)."""
    state = request.app.state
    with _CREATE:
        if getattr(state, "console_analytics", None) is None:
            settings = state.settings
            # how long a page waits for a sync: WAIT_SECONDS unless the app says otherwise (tests wait long)
            wait = getattr(state, "analytics_sync_wait", WAIT_SECONDS)
            state.console_analytics = Runner(state.engine, settings.data_dir, settings.spark_master, wait)
        found: Runner = state.console_analytics
    return found
