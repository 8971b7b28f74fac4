"""Facts whose identities are all new: each becomes one customer, written from columns without graph objects.

A first-time import makes a customer for almost every row. The resolver's general pass builds
objects per customer and identity to decide merges, attaches and conflicts, none of which can
happen to a fact whose identities are all unknown to the store and named by no other fact of its
batch: it creates one customer holding those identities (new identities of distinct kinds: no
unique-kind conflict), anchored on the most specific one and linked to each other one, with the
fact as cause. :class:`FreshFacts` carries such facts as columns; :func:`fresh_rows` turns them into
the rows the resolver would have written, with the ids it would have given them: every fact has a
place in its batch's order (``at``), and ids are dealt out in that order to the resolver's other
new customers, identities and links and to these (:func:`interleave`). A later fact naming only
identities of one such fact changes nothing either: the caller may answer it from the identities
returned (:data:`Made`) and leave it out of the batch, as the import's event block does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from siyu.domains.identity.kinds import KindRegistry
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

# the columns of the rows built here; every row of a batch also gets its time (created_at, and a new
# customer's updated_at, gender 'unknown' and empty attributes) as constants of the statement
CUSTOMER_COLUMNS = ("id", "first_seen_at")
IDENTITY_COLUMNS = ("id", "kind", "lookup", "masked", "value", "value_enc", "customer_id", "origin_customer_id",
                    "cause_type", "cause_ref")
LINK_COLUMNS = ("a_id", "b_id", "cause_type", "cause_ref")

Made = dict[str, tuple[int, str, str, int]]  # lookup → (identity id, kind, lookup, customer id)


@dataclass(slots=True)
class FreshFacts:
    """Facts of one batch whose identities are all new and appear in no other fact of it, as columns.

    The columns may hold more rows than the fresh facts (a caller's whole block): ``rows`` picks
    them. ``at`` is each fact's place among all the facts of the batch (the resolver's other facts
    take the remaining places, in their order).
    """

    cause_type: str
    at: list[int]
    rows: list[int]
    cause_refs: Sequence[str]
    occurred: Sequence[str]  # UTC as SQLite stores it: "YYYY-MM-DD HH:MM:SS.ffffff"
    kinds: tuple[str, ...]
    values: Sequence[Sequence[str | None]]  # per kind: the normalised value, None where the fact has none
    lookups: Sequence[Sequence[str | None]]  # per kind: the blind index

    def __len__(self) -> int:
        return len(self.rows)

    def sizes(self) -> list[int]:
        """Return how many identities each fact holds."""
        present = [[lk is not None for lk in col] for col in self.lookups]
        return [sum(col[j] for col in present) for j in self.rows]

    def others_at(self, count: int) -> list[int]:
        """Return the places of the batch's ``count`` other facts: those ``at`` leaves free, in order."""
        taken = set(self.at)
        return [n for n in range(count + len(self.at)) if n not in taken]


def stored_time(postgres: bool) -> Callable[[datetime], Any]:
    """Return how a UTC time is handed to the driver: SQLite's text without offset, PostgreSQL's datetime."""
    if postgres:
        return lambda value: value
    return lambda value: value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def interleave(left: Sequence[int], right: Sequence[int], ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Deal ``ids`` to two sequences of places (each non-decreasing, none shared) in their merged order."""
    if not right:
        return list(ids), []
    if not left:
        return [], list(ids)
    a: list[int] = []
    b: list[int] = []
    i = j = 0
    for nid in ids:
        if j >= len(right) or (i < len(left) and left[i] < right[j]):
            a.append(nid)
            i += 1
        else:
            b.append(nid)
            j += 1
    return a, b


def fresh_rows(fresh: FreshFacts, kinds: KindRegistry, vault: PiiVault, customer_ids: list[int],
               identity_ids: list[int], postgres: bool
               ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[int, tuple[Any, ...]]], Made]:
    """Return the customer, identity and (place, link) rows of the fresh facts in storage form, and their identities
    as the look-up would now find them (lookup → id, kind, lookup, customer id); ids are the ones dealt to these
    facts, in order."""
    specs = [kinds.spec(kind) for kind in fresh.kinds]
    # the most specific identity anchors the fact, as Resolver._apply chooses it
    ranked = sorted(range(len(specs)), key=lambda c: (specs[c].specificity, fresh.kinds[c]), reverse=True)
    suffix = "+00:00" if postgres else ""
    ctype = fresh.cause_type
    customers: list[tuple[Any, ...]] = []
    idents: list[tuple[Any, ...]] = []
    links: list[tuple[int, tuple[Any, ...]]] = []
    made: Made = {}
    next_id = iter(identity_ids).__next__
    columns = list(zip(fresh.kinds, specs, fresh.values, fresh.lookups, strict=True))
    for at, j, cid in zip(fresh.at, fresh.rows, customer_ids, strict=True):
        customers.append((cid, fresh.occurred[j] + suffix))
        ref = fresh.cause_refs[j][:160]
        mine: dict[int, int] = {}
        for c, (kind, spec, values, lookups) in enumerate(columns):
            lookup = lookups[j]
            if lookup is None:
                continue
            value = values[j]
            mine[c] = iid = next_id()
            made[lookup] = (iid, kind, lookup, cid)
            idents.append((iid, kind, lookup, spec.mask(value), None if spec.pii else value,
                           vault.encrypt(value) if spec.pii else None, cid, cid, ctype, ref))
        anchor = mine[next(c for c in ranked if c in mine)]
        for iid in mine.values():
            if iid != anchor:
                links.append((at, (min(anchor, iid), max(anchor, iid), ctype, ref)))
    return customers, idents, links, made
