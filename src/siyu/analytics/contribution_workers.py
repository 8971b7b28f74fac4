"""A full rebuild's customer contributions, computed over id ranges inline or by worker processes.

A full rebuild (:func:`siyu.analytics.refresh.rebuild`) spends most of its time in Python: each
customer's facts become a :class:`~siyu.analytics.spans.Contribution` and every contribution is
added to one :class:`~siyu.analytics.spans.Delta`. Customers are independent, so on a large store
the id ranges are shared out among worker processes (one per CPU): each reads its ranges
through a connection of its own, sends back the ranges' ``health_customers`` and ``health_moves``
rows, and at the end its partial Delta; the calling process writes the rows as they arrive, in range
order, and adds the partial sums. Sums are exact integers, so the result is the same as computing
inline, whatever the split (``tests/analytics/test_health_summaries.py`` checks both ways).

Workers read the facts committed in the database, not the caller's transaction: only a caller
whose facts are all committed (``siyu demo``, ``siyu analytics refresh --full``) may ask for them.
Workers are spawned, not forked: the caller holds an open SQLite connection in a write transaction,
and SQLite's per-process lock bookkeeping must not be inherited by a process that opens the file again.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from queue import Empty
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from siyu.analytics import summaries as sql
from siyu.analytics.contributions import contributions
from siyu.analytics.spans import Contribution, Delta
from siyu.db.engine import make_engine

REBUILD_RANGE = 5000  # customer ids per step of a full rebuild
PARALLEL_FROM = 50_000  # customer ids: below this a rebuild takes seconds and stays in the calling process


@dataclass
class Part:
    """One id range's rows of ``health_customers`` and ``health_moves``, and how many customers it read."""

    customers: list[tuple[Any, ...]]
    moves: list[tuple[str, date, int]]
    count: int


def compute(session: Session, tz: ZoneInfo, start: int, size: int, delta: Delta) -> Part:
    """Compute the contributions of customers with ids in [start, start + size) into ``delta``."""
    new = contributions(sql.customer_facts_between(session, start, start + size), tz)
    for c in new.values():
        delta.add(c, 1)
    return Part([customer_row(cid, c) for cid, c in sorted(new.items()) if c.live], move_rows(new), len(new))


def customer_row(customer_id: int, c: Contribution) -> tuple[Any, ...]:
    """Return a customer's ``health_customers`` row, in :data:`siyu.analytics.summaries.CUSTOMER_COLUMNS` order."""
    text = c.encode()
    return (customer_id, c.live, date.fromordinal(c.first_day) if c.first_day is not None else None, c.platform,
            text["active"], text["paid"], text["items"], text["moves"], text["now"])


def move_rows(contributions: dict[int, Contribution]) -> list[tuple[str, date, int]]:
    """Return the rows of ``health_moves``: each live customer's days of entries and losses, each once."""
    rows = {(("in" if m > 0 else "out"), abs(m), cid) for cid, c in contributions.items() if c.live for m in c.moves}
    return [(kind, date.fromordinal(day), cid) for kind, day, cid in sorted(rows)]


def workers_for(session: Session, low: int, high: int, asked: int | None) -> int:
    """Return how many worker processes to use (1: compute in the calling process)."""
    if asked is not None:
        return max(1, asked)
    url = make_url(str(session.get_bind().url))
    in_memory = url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:")
    if in_memory or high - low < PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def parts(session: Session, tz: ZoneInfo, starts: list[int], size: int, delta: Delta, workers: int,
          progress: Callable[[int], None] | None = None) -> Iterator[Part]:
    """Yield the rows of each range [start, start + size) in range order, adding every contribution to ``delta``."""
    if workers <= 1:
        for start in starts:
            part = compute(session, tz, start, size, delta)
            if progress:
                progress(part.count)
            yield part
        return
    yield from _parallel(session, tz, starts, size, delta, workers, progress)


def _parallel(session: Session, tz: ZoneInfo, starts: list[int], size: int, delta: Delta, workers: int,
              progress: Callable[[int], None] | None) -> Iterator[Part]:
    url = session.get_bind().url.render_as_string(hide_password=False)
    mp = multiprocessing.get_context("spawn")
    out: Any = mp.Queue(maxsize=8 * workers)
    procs = [mp.Process(target=_work, args=(url, tz, starts[k::workers], size, k, workers, out), daemon=True,
                        name=f"siyu-summaries-{k}") for k in range(workers)]
    for proc in procs:
        proc.start()
    try:
        waiting: dict[int, Part] = {}
        following, finished = 0, 0
        while finished < workers:
            kind, number, payload = _receive(out, procs)
            if kind == "part":
                waiting[number] = payload
                while following in waiting:  # rows are written in range order, whatever order they come in
                    part = waiting.pop(following)
                    following += 1
                    if progress:
                        progress(part.count)
                    yield part
            else:
                delta.merge(payload)
                finished += 1
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()


def _receive(out: Any, procs: list[Any]) -> tuple[str, int, Any]:
    """Return the next message of the workers; raise if one failed or died."""
    while True:
        try:
            kind, number, payload = out.get(timeout=1.0)
        except Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a summaries worker process died") from None
            continue
        if kind == "error":
            raise RuntimeError(f"a summaries worker failed:\n{payload}")
        return kind, number, payload


def _work(url: str, tz: ZoneInfo, starts: list[int], size: int, first: int, step: int, out: Any) -> None:
    """Compute ranges ``starts`` (numbered first, first + step, …) on a connection of this process."""
    try:
        engine = make_engine(url)
        delta = Delta()
        with Session(engine) as session:
            for n, start in enumerate(starts):
                out.put(("part", first + n * step, compute(session, tz, start, size, delta)))
        engine.dispose()
        out.put(("delta", first, delta))
    except BaseException:
        out.put(("error", first, traceback.format_exc()))
        raise
