"""Keep the daily summaries of the dashboard exact: incremental refresh and full rebuild.

``refresh`` takes the identity-graph lock (so no ingestion batch is half-seen and two refreshes never
apply the same change twice), reads the watermarks of the append-only tables, and finds what changed
since: new events, order facts, follow relations, group stays, customers, automatic merges, and the
merges, unmerges and splits operators made (audit log), plus staff who departed since. Two kinds of
summaries are then brought up to date:

- day metrics (paid orders and GMV) are recomputed from the facts for every day that changed;
- customer metrics (active days, paid orders per day, first day and platform, the days the customer
  added or deleted a staff member or joined or left a group, moves in and out of the private domain,
  who follows the customer and which groups hold it now; :mod:`siyu.analytics.contributions`) are
  recomputed per changed customer; the stored old contribution is taken back and the new one added
  (:mod:`siyu.analytics.spans`), so merges and unmerges move figures exactly.

``rebuild`` empties the summaries, recomputes every day, and computes every customer's contribution
by the same definitions column-wise over all customers at once (:mod:`siyu.analytics.rebuild_columns`),
writing the sums once; `siyu demo` ends with it and `siyu analytics refresh --full` runs it on an
existing store. Every call is idempotent: a refresh with nothing new only reads the watermarks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.analytics import fact_columns, rebuild_columns
from siyu.analytics import summaries as sql
from siyu.analytics.contributions import contributions, customer_row, move_rows
from siyu.analytics.spans import Contribution, Delta
from siyu.db.engine import unit_of_work
from siyu.domains.identity import service as identity
from siyu.errors import Conflict
from siyu.kit.time import day_bounds_utc

CUSTOMER_CHUNK = 2000
DEPARTED = "departed:"  # state names of departed staff already taken into account


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh recomputed."""

    days: int
    customers: int
    full: bool


def refresh(session: Session, tz: ZoneInfo, *, progress: Callable[[int], None] | None = None) -> RefreshResult:
    """Bring the summaries up to date with every fact stored so far (incremental)."""
    identity.lock(session)
    marks = sql.state(session)
    if not marks:
        return rebuild(session, tz, progress=progress, locked=True)
    top = sql.tops(session)
    departed = [s for s in sql.departed_staff(session) if f"{DEPARTED}{s}" not in marks]
    if all(top[k] == marks.get(k, 0) for k in top) and not departed:
        return RefreshResult(0, 0, False)
    days, customers = sql.changed(session, marks, top, tz, departed)
    _recompute_days(session, tz, sorted(days))
    _recompute_customers(session, tz, sorted(customers), progress)
    sql.set_state(session, {**top, **{f"{DEPARTED}{s}": 1 for s in departed}})
    session.flush()
    return RefreshResult(len(days), len(customers), False)


def is_stale(session: Session) -> bool:
    """Return whether facts were stored (or staff departed) since the last refresh."""
    marks = sql.state(session)
    if not marks:
        return True
    top = sql.tops(session)
    return (any(top[k] != marks.get(k, 0) for k in top)
            or any(f"{DEPARTED}{s}" not in marks for s in sql.departed_staff(session)))


FIRST_BUILD_IN_REQUEST_MAX = 50_000  # customers; a first build above this takes minutes: run it as a command


def too_large_to_build(session: Session) -> bool:
    """Return whether the summaries were never built and the store is too large to build them on the side.

    Such a first build takes minutes and holds the write lock throughout: it is left to
    ``siyu analytics refresh --full`` rather than a page view or the background refresher.
    """
    return not sql.state(session) and sql.has_more_customers_than(session, FIRST_BUILD_IN_REQUEST_MAX)


def refresh_if_stale(session: Session, tz: ZoneInfo) -> None:
    """Refresh in a writer transaction of its own when needed, so ``session`` then reads fresh summaries.

    ``session`` is a reader: its snapshot is ended before and after, so it sees the refresh's commit.
    A store whose summaries were never built and that is too large to build them inside a request
    (an existing store upgraded to this version) gets ``summaries_not_built`` naming the command.
    """
    stale = is_stale(session)
    if stale and too_large_to_build(session):
        raise Conflict("the dashboard's daily summaries have not been built for this store yet; run "
                       "`siyu analytics refresh --full` once (minutes on a large store), then reload",
                       code="summaries_not_built")
    session.rollback()
    if stale:
        with unit_of_work(session.get_bind()) as writer:  # type: ignore[arg-type]
            refresh(writer, tz)


@dataclass
class Prepared:
    """A full rebuild read and computed, its rows ready for the writer (:func:`prepare_rebuild`)."""

    top: dict[str, int]
    departed: list[int]
    days: int
    built: rebuild_columns.Rebuilt
    customer_rows: list[tuple[list[tuple[Any, ...]], int]] | None = None  # formatted ahead, if asked


def prepare_rebuild(session: Session, tz: ZoneInfo, *, format_rows: bool = False) -> Prepared:
    """Read the facts and compute every summary of a full rebuild without writing anything.

    A reader can do this beside a writer (``siyu demo`` does it while the load's indexes are rebuilt);
    :func:`rebuild` then only writes, and is exact as long as no fact was written in between.
    ``format_rows`` also formats every ``health_customers`` row now instead of chunk by chunk as written.
    """
    top = sql.tops(session)
    departed = sql.departed_staff(session)
    span = sql.fact_days(session, tz)
    days = (span[1] - span[0]).days + 1 if span else 0
    built = rebuild_columns.compute(fact_columns.read(session), tz)
    return Prepared(top, departed, days, built, list(built.rows) if format_rows else None)


def rebuild(session: Session, tz: ZoneInfo, *, progress: Callable[[int], None] | None = None,
            locked: bool = False, prepared: Prepared | None = None) -> RefreshResult:
    """Recompute every summary from the facts (an existing store's first build, or a repair).

    ``prepared``: the facts already read and computed by :func:`prepare_rebuild` (nothing written since).
    """
    if not locked:
        identity.lock(session)
    ready = prepared if prepared is not None and _still_current(session, prepared) else prepare_rebuild(session, tz)
    sql.clear(session)
    _write_customers(session, ready, progress)  # and the day metrics of every day
    sql.set_state(session, {**ready.top, **{f"{DEPARTED}{s}": 1 for s in ready.departed}})
    session.flush()
    return RefreshResult(ready.days, ready.built.count, True)


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Group sorted days into runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _recompute_days(session: Session, tz: ZoneInfo, days: Sequence[date]) -> None:
    for first, last in _runs(days):
        totals: Counter[tuple[str, date, str]] = Counter()
        start, end = day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1]
        for metric, bucket, dim, value in sql.day_rows(session, start, end):
            totals[(metric, sql.hour_day(bucket, tz), dim)] += value
        sql.replace_days(session, first, last, sql.DAY_METRICS,
                         [{"metric": m, "day": d, "dim": dim, "value": v}
                          for (m, d, dim), v in sorted(totals.items()) if v])


def _stored(row: Any) -> Contribution:
    return Contribution.decode(row.live, row.first_day.toordinal() if row.first_day else None, row.platform,
                               {"active": row.active, "paid": row.paid, "items": row.items, "moves": row.moves,
                                "now": row.now_in})


def _apply(session: Session, delta: Delta) -> None:
    """Write a delta's daily values, span counts and state counts."""
    sql.add_daily(session, {(m, date.fromordinal(d), dim): v for (m, d, dim), v in delta.daily.items()})
    sql.add_spans(session, {(m, dim, date.fromordinal(e), date.fromordinal(s)): n
                            for (m, dim, e, s), n in delta.spans.items()})
    sql.add_state(session, dict(delta.state))


def _recompute_customers(session: Session, tz: ZoneInfo, customer_ids: Sequence[int],
                         progress: Callable[[int], None] | None) -> None:
    """Recompute these customers' contributions and apply the difference."""
    for start in range(0, len(customer_ids), CUSTOMER_CHUNK):
        part = customer_ids[start:start + CUSTOMER_CHUNK]
        delta = Delta()
        for old in sql.stored_customers(session, part):
            delta.add(_stored(old), -1)
        new = contributions(sql.customer_facts(session, part), tz)
        for c in new.values():
            delta.add(c, 1)
        _apply(session, delta)
        sql.replace_customers(session, part, [customer_row(cid, c) for cid, c in new.items() if c.live])
        sql.replace_moves(session, part, move_rows(new))
        if progress:
            progress(len(part))


def _still_current(session: Session, ready: Prepared) -> bool:
    """Return whether nothing the summaries count was written since ``ready`` was read; if so, take the
    watermarks of now (audit entries that change no customer may have been added since, an admin's login)."""
    top = sql.tops(session)
    if any(top[k] != ready.top[k] for k in top if k != "audit_log") or sql.departed_staff(session) != ready.departed:
        return False
    if sql.identity_actions_between(session, ready.top["audit_log"], top["audit_log"]):
        return False
    ready.top = top
    return True


def _write_customers(session: Session, ready: Prepared, progress: Callable[[int], None] | None) -> None:
    """Write every customer's contribution and the day metrics into emptied tables.

    The same contributions as :func:`_recompute_customers` and day sums as :func:`_recompute_days`,
    computed column-wise over all customers at once (:mod:`siyu.analytics.rebuild_columns`) from one
    scan of each fact table: nothing stored has to be taken back, and the sums are written once.
    """
    built = ready.built
    for rows, covered in ready.customer_rows if ready.customer_rows is not None else built.rows:
        sql.insert_stored(session, "health_customers", rows)
        if progress:
            progress(covered)
    sql.insert_stored(session, "health_moves", built.moves)
    daily, spans = built.sums.rows()
    sql.insert_stored(session, "health_daily", daily)
    sql.insert_stored(session, "health_spans", spans)
    sql.add_state(session, dict(built.sums.state))
