"""What changed in the store's mutable rows since the mirror's watermarks, read from append-only rows.

The mirror copies three tables whose rows change in place: the identity → customer map, the live
customers (first-seen time, first-touch source, merged or not) and the follow relations (closed by a
deletion or a transfer). Copying them whole costs seconds at a million customers, so a sync copies
only the rows that can have changed since the last one. Every way the store changes them leaves an
append-only row with a higher id than any the last sync saw (on SQLite writers commit one at a time,
so ids grow in commit order):

- a merge (automatic or an operator's) adds a ``merges`` row: survivor and merged customer; an unmerge
  or a split adds an ``audit_log`` row naming the customers (``customer.unmerge`` with the merge,
  ``customer.split`` with the new customer). Identities move only between those customers;
- a first-touch source, a deletion or a group change comes with an event (or an order fact) of one of
  the customer's identities; a new follow relation is a new ``ownerships`` row;
- a transfer between staff members adds a ``staff_transfers`` row: every relation of the member who
  handed over may have been closed;
- new customers and identities have ids past the watermark.

:func:`changes` turns those rows into the identities, customers and staff members whose rows are
copied again. The same reasoning is what the dashboard's incremental refresh
(:mod:`siyu.analytics.summaries`) relies on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

IDENTITY_ACTIONS = ("customer.merge", "customer.unmerge", "customer.split")
# append-only tables whose ids the mirror remembers (beside the facts it copies)
LOGS = ("identities", "customers", "ownerships", "merges", "audit_log", "staff_transfers")


@dataclass
class Changes:
    """Rows to copy again: identities, customers, and the follow relations of these staff members."""

    identities: set[int] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    staff: set[int] = field(default_factory=set)

    def size(self) -> int:
        """Return how many keys the copy will look up."""
        return len(self.identities) + len(self.customers) + len(self.staff)


def id_list(ids: Iterable[int]) -> str:
    """Return ids as the JSON text ``json_each(?)`` reads: one parameter for any number of ids."""
    return json.dumps(sorted(ids))


def _ids(source: Any, sql: str, *params: Any) -> set[int]:
    return {int(r[0]) for r in source.execute(sql, params).fetchall() if r[0] is not None}


def _between(source: Any, table: str, column: str, marks: dict[str, int], tops: dict[str, int]) -> set[int]:
    return _ids(source, f"SELECT DISTINCT {column} FROM {table} WHERE id > ? AND id <= ?",
                marks.get(table, 0), tops[table])


def _identity_actions(source: Any, lo: int, hi: int) -> set[int]:
    """Return the customers named by operators' merges, unmerges and splits with audit ids in (lo, hi]."""
    out: set[int] = set()
    merge_ids: list[int] = []
    marks = ", ".join("?" for _ in IDENTITY_ACTIONS)
    for target, detail in source.execute(f"SELECT target_id, detail FROM audit_log WHERE id > ? AND id <= ? "
                                         f"AND action IN ({marks})", (lo, hi, *IDENTITY_ACTIONS)).fetchall():
        if target and str(target).isdigit():
            out.add(int(target))
        detail = json.loads(detail) if isinstance(detail, str) else (detail or {})
        for key in ("merged_id", "new_customer_id"):
            if isinstance(detail.get(key), int):
                out.add(detail[key])
        if isinstance(detail.get("merge_id"), int):
            merge_ids.append(detail["merge_id"])
    if merge_ids:
        for survivor, merged in source.execute("SELECT survivor_id, merged_id FROM merges WHERE id IN "
                                               "(SELECT value FROM json_each(?))", (id_list(merge_ids),)).fetchall():
            out.update((survivor, merged))
    return out


def changes(source: Any, marks: dict[str, int], tops: dict[str, int]) -> Changes:
    """Return what to copy again after the rows with ids in (marks, tops] (see the module's reasons)."""
    moved = _between(source, "merges", "survivor_id", marks, tops) | _between(source, "merges", "merged_id", marks, tops)
    moved |= _identity_actions(source, marks.get("audit_log", 0), tops["audit_log"])
    idents = _between(source, "events", "identity_id", marks, tops) | _between(source, "ownerships", "identity_id", marks, tops)
    idents |= _ids(source, "SELECT DISTINCT o.identity_id FROM order_facts f JOIN orders o ON o.id = f.order_pk "
                           "WHERE f.id > ? AND f.id <= ?", marks.get("order_facts", 0), tops["order_facts"])
    idents |= _ids(source, "SELECT id FROM identities WHERE id > ? AND id <= ?", marks.get("identities", 0),
                   tops["identities"])
    if moved:  # every identity now held by a customer that took part in a merge, unmerge or split
        idents |= _ids(source, "SELECT id FROM identities WHERE customer_id IN (SELECT value FROM json_each(?))",
                       id_list(moved))
    customers = moved | _ids(source, "SELECT id FROM customers WHERE id > ? AND id <= ?", marks.get("customers", 0),
                             tops["customers"])
    if idents:
        customers |= _ids(source, "SELECT DISTINCT customer_id FROM identities WHERE id IN (SELECT value FROM json_each(?))",
                          id_list(idents))
    staff = _between(source, "staff_transfers", "from_staff_id", marks, tops)
    return Changes(idents, customers, staff)
