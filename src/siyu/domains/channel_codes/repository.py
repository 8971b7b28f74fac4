"""SQL for channel codes, their staff pools and daily statistics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.domains.channel_codes.models import ChannelCode, ChannelCodeDaily, ChannelCodeStaff
from siyu.domains.customers import Customer

CHUNK = 2000


def _parts(values: Iterable[Any]) -> list[list[Any]]:
    items = sorted(set(values))
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def _dialect_insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def add(session: Session, code: ChannelCode) -> None:
    """Stage a new code and flush it so it has an id."""
    session.add(code)
    session.flush()


def get(session: Session, code_id: int, *, for_update: bool = False) -> ChannelCode | None:
    """Return the code with ``code_id`` (row-locked on PostgreSQL with ``for_update``)."""
    query = select(ChannelCode).where(ChannelCode.id == code_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def by_state(session: Session, state: str) -> ChannelCode | None:
    """Return the code whose WeCom state is ``state``."""
    return session.scalar(select(ChannelCode).where(ChannelCode.state == state))


def by_states(session: Session, states: Iterable[str]) -> dict[str, ChannelCode]:
    """Return {state: code} for the known ``states``."""
    found: dict[str, ChannelCode] = {}
    for part in _parts(states):
        found.update((c.state, c) for c in session.scalars(select(ChannelCode).where(ChannelCode.state.in_(part))))
    return found


def names(session: Session, code_ids: Iterable[int]) -> dict[int, str]:
    """Return {id: name} of the existing codes among ``code_ids``."""
    found: dict[int, str] = {}
    for part in _parts(code_ids):
        found.update((a, b) for a, b in session.execute(select(ChannelCode.id, ChannelCode.name)
                                                        .where(ChannelCode.id.in_(part))))
    return found


def known_states(session: Session, states: Iterable[str]) -> set[str]:
    """Return the subset of ``states`` that belong to a code."""
    found: set[str] = set()
    for part in _parts(states):
        found.update(session.scalars(select(ChannelCode.state).where(ChannelCode.state.in_(part))))
    return found


def list_codes(session: Session, *, active: bool | None, platform: str | None, after_id: int | None,
               limit: int) -> list[ChannelCode]:
    """Return one page of codes in id order."""
    query = select(ChannelCode).order_by(ChannelCode.id).limit(limit)
    if active is not None:
        query = query.where(ChannelCode.active.is_(active))
    if platform:
        query = query.where(ChannelCode.platform == platform)
    if after_id:
        query = query.where(ChannelCode.id > after_id)
    return list(session.scalars(query))


def pools(session: Session, code_ids: Iterable[int]) -> dict[int, list[ChannelCodeStaff]]:
    """Return {code_id: pool members in pool order} for ``code_ids``."""
    result: dict[int, list[ChannelCodeStaff]] = {}
    for part in _parts(code_ids):
        query = (select(ChannelCodeStaff).where(ChannelCodeStaff.code_id.in_(part))
                 .order_by(ChannelCodeStaff.code_id, ChannelCodeStaff.position, ChannelCodeStaff.id))
        for member in session.scalars(query):
            result.setdefault(member.code_id, []).append(member)
    return result


def replace_pool(session: Session, code_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Replace a code's pool with ``rows`` (staff_id, weight, daily_cap, position)."""
    session.execute(delete(ChannelCodeStaff).where(ChannelCodeStaff.code_id == code_id))
    if rows:
        session.execute(insert(ChannelCodeStaff), [{"code_id": code_id, **row} for row in rows])


def bump_daily(session: Session, rows: Sequence[tuple[int, date, int, int]]) -> None:
    """Add (code_id, day, added, lost) to the daily counters, creating rows as needed.

    One INSERT … ON CONFLICT DO UPDATE per chunk, in key order so concurrent batches lock rows in
    the same order on PostgreSQL. Keys must be unique within ``rows``.
    """
    ordered = sorted(rows)
    for start in range(0, len(ordered), 500):
        values = [{"code_id": c, "day": d, "added": a, "lost": lo} for c, d, a, lo in ordered[start:start + 500]]
        stmt = _dialect_insert(session)(ChannelCodeDaily).values(values)
        stmt = stmt.on_conflict_do_update(index_elements=["code_id", "day"],
                                          set_={"added": ChannelCodeDaily.added + stmt.excluded.added,
                                                "lost": ChannelCodeDaily.lost + stmt.excluded.lost})
        session.execute(stmt)


def daily_totals(session: Session, code_ids: Iterable[int], first: date, last: date) -> dict[int, tuple[int, int]]:
    """Return {code_id: (added, lost)} summed over days in [first, last] (codes without rows left out)."""
    totals: dict[int, tuple[int, int]] = {}
    for part in _parts(code_ids):
        query = (select(ChannelCodeDaily.code_id, func.sum(ChannelCodeDaily.added), func.sum(ChannelCodeDaily.lost))
                 .where(ChannelCodeDaily.code_id.in_(part), ChannelCodeDaily.day >= first,
                        ChannelCodeDaily.day <= last)
                 .group_by(ChannelCodeDaily.code_id))
        totals.update((code_id, (int(added or 0), int(lost or 0))) for code_id, added, lost in session.execute(query))
    return totals


def daily(session: Session, code_id: int, first: date, last: date) -> list[ChannelCodeDaily]:
    """Return the daily rows of a code for days in [first, last]."""
    query = (select(ChannelCodeDaily)
             .where(ChannelCodeDaily.code_id == code_id, ChannelCodeDaily.day >= first, ChannelCodeDaily.day <= last)
             .order_by(ChannelCodeDaily.day))
    return list(session.scalars(query))


def customers_maybe_unattributed(session: Session, customer_ids: Iterable[int]) -> list[int]:
    """Return the ids among ``customer_ids`` that have no source yet or are merged (root unknown here)."""
    result: list[int] = []
    for part in _parts(customer_ids):
        query = select(Customer.id).where(
            Customer.id.in_(part),
            (Customer.merged_into_id.is_not(None))
            | (Customer.source_platform.is_(None) & Customer.source_channel_code_id.is_(None)))
        result.extend(session.scalars(query))
    return sorted(result)


def bump_scans(session: Session, code_id: int, day: date) -> None:
    """Count one landing-link scan of a code on ``day`` (one upsert)."""
    stmt = _dialect_insert(session)(ChannelCodeDaily).values(code_id=code_id, day=day, added=0, lost=0, scans=1)
    session.execute(stmt.on_conflict_do_update(index_elements=["code_id", "day"],
                                               set_={"scans": ChannelCodeDaily.scans + 1}))


def scans(session: Session, code_id: int, first: date, last: date) -> dict[date, int]:
    """Return {day: scans} of a code over [first, last] (days without scans left out)."""
    query = select(ChannelCodeDaily.day, ChannelCodeDaily.scans).where(
        ChannelCodeDaily.code_id == code_id, ChannelCodeDaily.day >= first, ChannelCodeDaily.day <= last,
        ChannelCodeDaily.scans > 0)
    return {day: n for day, n in session.execute(query)}
