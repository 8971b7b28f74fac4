"""SQL for staff members, follow relations (ownerships), transfers and WeCom contact statistics.

Look-ups by id lists are chunked so a 10,000-event batch stays under SQLite's bound-parameter
limit and keeps PostgreSQL plans on the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Row, Select, case, cast, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.domains.staff.models import Ownership, Staff, StaffBehavior, StaffTransfer

CHUNK = 2000
T = TypeVar("T")


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Yield ``items`` in lists of at most ``size``."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def add(session: Session, row: Staff | StaffTransfer) -> None:
    """Stage a new row and flush it so it has an id."""
    session.add(row)
    session.flush()


def get(session: Session, staff_id: int, *, for_update: bool = False) -> Staff | None:
    """Return the staff member with ``staff_id``."""
    query = select(Staff).where(Staff.id == staff_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def by_userid(session: Session, userid: str) -> Staff | None:
    """Return the staff member with WeCom ``userid``."""
    return session.scalar(select(Staff).where(Staff.userid == userid))


def by_ids(session: Session, staff_ids: Iterable[int]) -> list[Staff]:
    """Return the staff members among ``staff_ids``."""
    rows: list[Staff] = []
    for part in chunks(set(staff_ids)):
        rows.extend(session.scalars(select(Staff).where(Staff.id.in_(part))))
    return rows


def by_userids(session: Session, userids: Iterable[str]) -> list[Staff]:
    """Return the staff members among ``userids``."""
    rows: list[Staff] = []
    for part in chunks(set(userids)):
        rows.extend(session.scalars(select(Staff).where(Staff.userid.in_(part))))
    return rows


def ids_by_userid(session: Session, userids: Iterable[str]) -> dict[str, int]:
    """Return {userid: id} for the known ``userids``."""
    found: dict[str, int] = {}
    for part in chunks(set(userids)):
        found.update((a, b) for a, b in session.execute(select(Staff.userid, Staff.id).where(Staff.userid.in_(part))))
    return found


def insert_missing(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert staff rows, skipping userids that exist (safe against a concurrent insert)."""
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for part in chunks(rows, 500):
        session.execute(dialect_insert(Staff).values(part).on_conflict_do_nothing(index_elements=["userid"]))


def list_staff(session: Session, *, status: str | None, store: str | None, after_id: int | None,
               limit: int) -> list[Staff]:
    """Return one page of staff members in id order."""
    query = select(Staff).order_by(Staff.id).limit(limit)
    if status:
        query = query.where(Staff.status == status)
    if store:
        query = query.where(Staff.store == store)
    if after_id:
        query = query.where(Staff.id > after_id)
    return list(session.scalars(query))


def active_follows(session: Session, identity_ids: Iterable[int]) -> list[Row[Any]]:
    """Return active ownerships of ``identity_ids`` joined with their staff member."""
    rows: list[Row[Any]] = []
    cols = (Ownership.id, Ownership.identity_id, Ownership.staff_id, Staff.userid, Staff.name, Staff.status,
            Ownership.channel_code_id, Ownership.source, Ownership.added_at)
    for part in chunks(set(identity_ids)):
        query = (select(*cols).join(Staff, Staff.id == Ownership.staff_id)
                 .where(Ownership.identity_id.in_(part), Ownership.removed_at.is_(None)))
        rows.extend(session.execute(query))
    rows.sort(key=lambda r: (r.identity_id, r.added_at, r.id))
    return rows


def owned_identities_query(staff_id: int) -> Select[tuple[int]]:
    """Return a SELECT of the identity ids ``staff_id`` actively follows (for IN sub-queries)."""
    return select(Ownership.identity_id).where(Ownership.staff_id == staff_id, Ownership.removed_at.is_(None))


def owned_identity_ids(session: Session, staff_id: int) -> list[int]:
    """Return the identity ids ``staff_id`` actively follows."""
    return sorted(set(session.scalars(owned_identities_query(staff_id))))


def active_of_staff(session: Session, staff_id: int, identity_ids: Iterable[int] | None) -> list[Ownership]:
    """Return active ownerships of ``staff_id``, optionally only on ``identity_ids``; locks them."""
    base = select(Ownership).where(Ownership.staff_id == staff_id, Ownership.removed_at.is_(None))
    if identity_ids is None:
        return list(session.scalars(base.order_by(Ownership.id).with_for_update()))
    rows: list[Ownership] = []
    for part in chunks(set(identity_ids)):
        rows.extend(session.scalars(base.where(Ownership.identity_id.in_(part)).with_for_update()))
    rows.sort(key=lambda o: o.id)
    return rows


def active_by_identity(session: Session, identity_ids: Iterable[int]) -> list[Row[Any]]:
    """Return (id, identity_id, staff_id, channel_code_id, added_at) of active ownerships."""
    rows: list[Row[Any]] = []
    cols = (Ownership.id, Ownership.identity_id, Ownership.staff_id, Ownership.channel_code_id, Ownership.added_at)
    for part in chunks(set(identity_ids)):
        query = select(*cols).where(Ownership.identity_id.in_(part), Ownership.removed_at.is_(None))
        rows.extend(session.execute(query))
    return rows


def insert_ownerships(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ownership rows in bulk (executemany)."""
    if rows:
        session.execute(insert(Ownership.__table__), list(rows))  # Core executemany: no ORM per-row work


def close_ownerships(session: Session, closures: Sequence[dict[str, Any]]) -> None:
    """Set removed_at/removed_by on ownerships by id ({"id", "removed_at", "removed_by"} dicts)."""
    if closures:
        session.execute(update(Ownership), list(closures))


def active_counts(session: Session, staff_ids: Iterable[int]) -> dict[int, int]:
    """Return {staff_id: number of active ownerships}; staff with none are absent."""
    counts: dict[int, int] = {}
    for part in chunks(set(staff_ids)):
        query = (select(Ownership.staff_id, func.count()).where(Ownership.staff_id.in_(part),
                                                                Ownership.removed_at.is_(None))
                 .group_by(Ownership.staff_id))
        counts.update((a, b) for a, b in session.execute(query))
    return counts


def added_through_code(session: Session, code_id: int, start: datetime, end: datetime) -> dict[int, int]:
    """Return {staff_id: ownerships added through ``code_id`` in [start, end)}."""
    query = (select(Ownership.staff_id, func.count())
             .where(Ownership.channel_code_id == code_id, Ownership.added_at >= start, Ownership.added_at < end)
             .group_by(Ownership.staff_id))
    return {staff_id: n for staff_id, n in session.execute(query)}


def active_through_codes(session: Session, code_ids: Iterable[int]) -> dict[int, int]:
    """Return {channel_code_id: active ownerships opened through it}; codes with none are absent."""
    counts: dict[int, int] = {}
    for part in chunks(set(code_ids)):
        query = (select(Ownership.channel_code_id, func.count())
                 .where(Ownership.channel_code_id.in_(part), Ownership.removed_at.is_(None))
                 .group_by(Ownership.channel_code_id))
        counts.update((a, b) for a, b in session.execute(query))
    return counts


def transfers(session: Session, staff_id: int | None, limit: int) -> list[StaffTransfer]:
    """Return the newest transfers, optionally those from or to ``staff_id``."""
    query = select(StaffTransfer).order_by(StaffTransfer.id.desc()).limit(limit)
    if staff_id is not None:
        query = query.where((StaffTransfer.from_staff_id == staff_id) | (StaffTransfer.to_staff_id == staff_id))
    return list(session.scalars(query))


# --- WeCom contact statistics per staff member and day ----------------------------------------------

def behavior_days(session: Session, staff_id: int, days: Sequence[date]) -> int:
    """Return how many of ``days`` already hold statistics of ``staff_id``."""
    query = select(func.count()).select_from(StaffBehavior).where(StaffBehavior.staff_id == staff_id,
                                                                  StaffBehavior.day.in_(list(days)))
    return int(session.scalar(query) or 0)


def replace_behavior(session: Session, staff_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Replace the statistics of ``staff_id`` on the days of ``rows`` with ``rows``."""
    for part in chunks(rows):
        session.execute(delete(StaffBehavior).where(StaffBehavior.staff_id == staff_id,
                                                    StaffBehavior.day.in_([r["day"] for r in part])))
        session.execute(insert(StaffBehavior), [{"staff_id": staff_id, **r} for r in part])


def behavior_sums(session: Session, staff_ids: Iterable[int], first: date, last: date) -> list[Row[Any]]:
    """Return per staff member the integer sums a period's response is computed from, over days [first, last].

    Each row: staff_id, chats (Σ chat_cnt), rated (Σ chat_cnt of days with a reply rate), rate_chats
    (Σ reply_rate_bp × chat_cnt over those days), timed (the same over days that also have a reply time)
    and minutes (Σ avg_reply_minutes × reply_rate_bp × chat_cnt over those). A year of days sums in
    SQL instead of loading ~360 rows per member (the 366-day dashboard loaded 7,000 for two periods).
    """
    b = StaffBehavior
    rate = cast(b.reply_rate_bp, BigInteger) * b.chat_cnt  # 64-bit: int4 × int4 overflows on PostgreSQL
    timed = b.avg_reply_minutes.is_not(None)
    query = select(b.staff_id, func.sum(b.chat_cnt).label("chats"),
                   func.sum(case((b.reply_rate_bp.is_not(None), b.chat_cnt), else_=0)).label("rated"),
                   func.sum(func.coalesce(rate, 0)).label("rate_chats"),
                   func.sum(case((timed, rate), else_=0)).label("timed"),
                   func.sum(case((timed, rate * b.avg_reply_minutes), else_=0)).label("minutes"))
    rows: list[Row[Any]] = []
    for part in chunks(set(staff_ids)):
        rows.extend(session.execute(query.where(b.staff_id.in_(part), b.day >= first, b.day <= last)
                                    .group_by(b.staff_id)))
    return rows
