"""A full rebuild's facts as numpy columns: each table scanned once, in storage order.

A full rebuild (:func:`siyu.analytics.refresh.rebuild`) needs every customer's facts, and every paid
order for the day metrics (orders and GMV per day). Reading them per id range joined through the
identities cost more than scanning each table once: here the identities, customers, paid orders,
events, follow relations and group stays are read whole, and each fact is given its customer by a
sorted look-up of its identity. Times become integer microseconds since the epoch (UTC); a missing
time is :data:`NONE`.

On SQLite each column of a range of rowids comes back as one ``group_concat`` text that numpy parses
(SQLite's stored times are ISO text): five to ten times faster than fetching the rows as Python tuples,
which cost more than the scans themselves. The aggregates of one statement see the rows in the same
order, so the columns stay aligned. PostgreSQL computes the times and rows are fetched in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from siyu.db.bulk import is_postgres

NONE = np.iinfo(np.int64).min  # a missing time (numpy's NaT viewed as an integer)
NO_ID = -1  # a missing id (a follow relation without a channel code; the queries write it)
ROWIDS = 1_000_000  # SQLite rowids per group_concat
FETCH = 200_000  # PostgreSQL rows per fetchmany
UNIT = "\x1f"  # separates texts that may hold commas (source platforms)


@dataclass
class FactColumns:
    """Every customer and the facts of their identities, as arrays (customers ascending by id)."""

    customers: np.ndarray  # ids, ascending
    live: np.ndarray  # bool: not merged into another customer
    first_seen: np.ndarray  # µs, NONE when unknown
    platforms: list[str | None]
    event_customer: np.ndarray
    event_at: np.ndarray  # µs
    order_customer: np.ndarray  # paid orders only
    order_at: np.ndarray  # µs of placed_at
    order_net: np.ndarray  # amount_fen - refunded_fen
    rel_customer: np.ndarray
    rel_staff: np.ndarray
    rel_code: np.ndarray  # NO_ID without a channel code
    rel_transfer: np.ndarray  # bool: source is "transfer"
    rel_added: np.ndarray
    rel_removed: np.ndarray  # NONE while open
    rel_by_customer: np.ndarray  # bool: removed_by is "customer"
    stay_customer: np.ndarray
    stay_group: np.ndarray
    stay_joined: np.ndarray
    stay_left: np.ndarray  # NONE while open


# (expression, kind) of each table's columns; kinds: "int", "bool", "time" (a column name)
IDENTITIES = [("id", "int"), ("customer_id", "int")]
CUSTOMERS = [("id", "int"), ("merged_into_id IS NULL", "bool"), ("first_seen_at", "time")]
EVENTS = [("identity_id", "int"), ("occurred_at", "time")]
ORDERS = [("identity_id", "int"), ("placed_at", "time"), ("amount_fen - refunded_fen", "int")]
OWNERSHIPS = [("identity_id", "int"), ("staff_id", "int"), (f"coalesce(channel_code_id, {NO_ID})", "int"),
              ("source = 'transfer'", "bool"), ("added_at", "time"), ("removed_at", "time"),
              ("removed_by = 'customer'", "bool")]
STAYS = [("identity_id", "int"), ("group_id", "int"), ("joined_at", "time"), ("left_at", "time")]


def read(session: Session) -> FactColumns:
    """Return every customer and every fact their contributions are computed from."""
    connection = session.connection().connection.driver_connection
    postgres = is_postgres(session)
    scan = _postgres_scan if postgres else _sqlite_scan
    cursor = connection.cursor()
    try:
        ident_id, ident_customer = _by_id(scan(cursor, "identities", IDENTITIES))
        *people, platforms = _by_id([*scan(cursor, "customers", CUSTOMERS, order="id")],
                                    _platforms(cursor, postgres))
        events = scan(cursor, "events", EVENTS)
        orders = scan(cursor, "orders", ORDERS, "paid_at IS NOT NULL")
        rel = scan(cursor, "ownerships", OWNERSHIPS)
        stay = scan(cursor, "group_memberships", STAYS)
    finally:
        cursor.close()

    def owner(identities: np.ndarray) -> np.ndarray:
        return ident_customer[np.searchsorted(ident_id, identities)] if len(identities) else identities

    return FactColumns(*people, platforms, owner(events[0]), events[1], owner(orders[0]), *orders[1:],
                       owner(rel[0]), *rel[1:], owner(stay[0]), *stay[1:])


def _by_id(columns: list[np.ndarray], texts: list[str | None] | None = None) -> list[Any]:
    """Return the columns (and ``texts``, read in the same order) sorted by the first column, the ids."""
    ids = columns[0]
    if len(ids) < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return columns if texts is None else [*columns, texts]
    order = np.argsort(ids, kind="stable")
    out: list[Any] = [c[order] for c in columns]
    return out if texts is None else [*out, [texts[i] for i in order.tolist()]]


def _platforms(cursor: Any, postgres: bool) -> list[str | None]:
    """Return each customer's source platform, in the order the customers' columns were read."""
    if postgres:
        cursor.execute("SELECT source_platform FROM customers ORDER BY id")
        return [r[0] for r in cursor.fetchall()]
    out: list[str | None] = []
    for start, stop in _rowid_ranges(cursor, "customers"):
        cursor.execute(f"SELECT count(*), group_concat(coalesce('v' || source_platform, ''), '{UNIT}') FROM customers "
                       "WHERE rowid >= ? AND rowid < ?", (start, stop))
        count, text = cursor.fetchone()
        pieces = text.split(UNIT) if count else []
        if len(pieces) != count:  # a platform holding the separator: read this range row by row
            cursor.execute("SELECT source_platform FROM customers WHERE rowid >= ? AND rowid < ?", (start, stop))
            out += [r[0] for r in cursor.fetchall()]
        else:
            out += [p[1:] if p else None for p in pieces]  # 'v' + platform, '' for NULL
    return out


def _rowid_ranges(cursor: Any, table: str) -> list[tuple[int, int]]:
    cursor.execute(f"SELECT min(rowid), max(rowid) FROM {table}")
    low, high = cursor.fetchone()
    return [] if low is None else [(s, s + ROWIDS) for s in range(low, high + 1, ROWIDS)]


def _sqlite_scan(cursor: Any, table: str, columns: list[tuple[str, str]], where: str = "", order: str = "",
                 ) -> list[np.ndarray]:
    """Read ``columns`` of the rows ``where`` selects, a range of rowids at a time (rowid order, whatever ``order``)."""
    parts: list[list[np.ndarray]] = [[] for _ in columns]
    nulls = {"int": "", "bool": ", 0", "time": ", ''"}
    aggregates = ", ".join(f"group_concat(coalesce({e}{nulls[k]}))" if nulls[k] else f"group_concat({e})"
                           for e, k in columns)
    sql = f"SELECT {aggregates} FROM {table} WHERE rowid >= ? AND rowid < ?" + (f" AND {where}" if where else "")
    for start, stop in _rowid_ranges(cursor, table):
        cursor.execute(sql, (start, stop))
        for part, (_e, kind), text in zip(parts, columns, cursor.fetchone(), strict=True):
            part.append(_parse(text, kind))
    return [np.concatenate(p) if p else _parse(None, k) for p, (_e, k) in zip(parts, columns, strict=True)]


def _parse(text: str | None, kind: str) -> np.ndarray:
    """Return the comma-separated values of ``text`` as an array of ``kind`` (None: no rows)."""
    if kind == "time":  # '' (NULL) is NaT: a single row without a time is '', no rows is None
        return np.array([] if text is None else text.split(","), dtype="datetime64[us]").view(np.int64)
    if text is None:
        return np.zeros(0, bool if kind == "bool" else np.int64)
    out = np.fromstring(text, dtype=np.int64, sep=",")  # C parse, no str objects
    if len(out) != text.count(",") + 1:
        raise ValueError(f"unexpected integer text {text[:80]!r}")
    return out.astype(bool) if kind == "bool" else out


def _postgres_scan(cursor: Any, table: str, columns: list[tuple[str, str]], where: str = "", order: str = "",
                   ) -> list[np.ndarray]:
    """Read ``columns`` of the rows ``where`` selects in chunks of rows (times computed by the server), by ``order``."""
    exprs = [f"(extract(epoch from {e}) * 1000000)::bigint" if k == "time" else e for e, k in columns]
    cursor.execute(f"SELECT {', '.join(exprs)} FROM {table}" + (f" WHERE {where}" if where else "")
                   + (f" ORDER BY {order}" if order else ""))
    parts: list[list[np.ndarray]] = [[] for _ in columns]
    while rows := cursor.fetchmany(FETCH):
        for part, (_e, kind), values in zip(parts, columns, zip(*rows), strict=True):
            if kind == "time":
                part.append(np.array([NONE if v is None else v for v in values], dtype=np.int64))
            else:
                part.append(np.array(values, dtype=bool if kind == "bool" else np.int64))  # NULL bool: False
    empty = {"int": np.zeros(0, np.int64), "time": np.zeros(0, np.int64), "bool": np.zeros(0, bool)}
    return [np.concatenate(p) if p else empty[k] for p, (_e, k) in zip(parts, columns, strict=True)]
