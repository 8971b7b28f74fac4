"""A full rebuild's facts as numpy columns: each table scanned once in storage order, in chunks.

A full rebuild (:func:`siyu.analytics.refresh.rebuild`) needs every customer's facts, and every paid
order for the day metrics (orders and GMV per day). Reading them per id
range joined through the identities cost more than scanning each table once: here the identities,
customers, paid orders, events, follow relations and group stays are read whole (driver level,
``fetchmany`` chunks turned into arrays at once), and each fact is given its customer by a sorted
look-up of its identity. Times become integer microseconds since the epoch (UTC): SQLite's text is
parsed by numpy, PostgreSQL computes them; a missing time is :data:`NONE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from siyu.db.bulk import is_postgres

NONE = np.iinfo(np.int64).min  # a missing time (numpy's NaT viewed as an integer)
NO_ID = -1  # a missing id (a follow relation without a channel code)
FETCH = 200_000  # rows per fetchmany


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


def read(session: Session) -> FactColumns:
    """Return every customer and every fact their contributions are computed from."""
    cursor = session.connection().connection.driver_connection.cursor()
    postgres = is_postgres(session)

    def at(column: str) -> str:
        return f"(extract(epoch from {column}) * 1000000)::bigint" if postgres else column

    def times(values: tuple[Any, ...]) -> np.ndarray:
        if postgres:
            return np.array([NONE if v is None else v for v in values], dtype=np.int64)
        return np.array(values, dtype="datetime64[us]").view(np.int64)

    try:
        ident_id, ident_customer = _scan(cursor, "SELECT id, customer_id FROM identities ORDER BY id", (_ints, _ints))
        owner = _Owner(ident_id, ident_customer)
        customers, live, first_seen, platforms = _scan(
            cursor, f"SELECT id, merged_into_id IS NULL, {at('first_seen_at')}, source_platform FROM customers "
            "ORDER BY id", (_ints, _bools, times, list))
        ev_ident, ev_at = _scan(cursor, f"SELECT identity_id, {at('occurred_at')} FROM events", (_ints, times))
        or_ident, or_at, or_net = _scan(cursor, f"SELECT identity_id, {at('placed_at')}, amount_fen - refunded_fen "
                                        "FROM orders WHERE paid_at IS NOT NULL", (_ints, times, _ints))
        rel = _scan(cursor, "SELECT identity_id, staff_id, channel_code_id, source = 'transfer', "
                    f"{at('added_at')}, {at('removed_at')}, removed_by = 'customer' FROM ownerships",
                    (_ints, _ints, _optional_ids, _bools, times, times, _bools))
        stay = _scan(cursor, f"SELECT identity_id, group_id, {at('joined_at')}, {at('left_at')} FROM group_memberships",
                     (_ints, _ints, times, times))
    finally:
        cursor.close()
    return FactColumns(customers, live, first_seen, platforms, owner(ev_ident), ev_at, owner(or_ident), or_at, or_net,
                       owner(rel[0]), *rel[1:], owner(stay[0]), *stay[1:])


class _Owner:
    """The customer holding each identity now."""

    def __init__(self, ids: np.ndarray, customers: np.ndarray) -> None:
        self.ids, self.customers = ids, customers

    def __call__(self, identities: np.ndarray) -> np.ndarray:
        return self.customers[np.searchsorted(self.ids, identities)] if len(identities) else identities


def _ints(values: tuple[Any, ...]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _bools(values: tuple[Any, ...]) -> np.ndarray:
    return np.array([bool(v) for v in values], dtype=bool)


def _optional_ids(values: tuple[Any, ...]) -> np.ndarray:
    return np.array([NO_ID if v is None else v for v in values], dtype=np.int64)


def _scan(cursor: Any, sql: str, kinds: tuple[Any, ...]) -> list[Any]:
    """Run ``sql`` and return its columns, each converted by its ``kinds`` function."""
    cursor.execute(sql)
    parts: list[list[Any]] = [[] for _ in kinds]
    while rows := cursor.fetchmany(FETCH):
        for part, kind, column in zip(parts, kinds, zip(*rows), strict=True):
            part.append(kind(column))
    out: list[Any] = []
    for part, kind in zip(parts, kinds, strict=True):
        if kind is list:
            out.append([v for chunk in part for v in chunk])
        else:
            out.append(np.concatenate(part) if part else kind(()))
    return out
