"""Events of an import chunk as columns of primitives: cheap to hand from the reader process, written without objects.

The CSV column path (:mod:`siyu.domains.ingest.columns`) puts every row it accepts that needs
nothing but storing (no junk identity, no type another domain handles) into an :class:`EventBlock`:
lists of its fields and of each identity column's blind indexes and normalised values. A reader
process turns times and properties into the text the events table stores before handing it over
(:meth:`EventBlock.to_storage`): unpickling lists of strings costs the writing process a fraction of
what per-row objects cost, so a second CPU can do the reading, validation and blind-indexing.

The writer (:func:`write_events_block`) does what ``service.write_events`` does, with the same
stored result: one duplicate look-up for the chunk, one look-up of the block's identities; a row
whose identities all exist on one customer is anchored right there, as the resolver would anchor
it (such a fact changes nothing in the graph, so the resolver answers it the same way wherever it
sits in the batch); a row whose identities are all new, and named again only by later rows naming
nothing else, goes to the resolver as columns (``identity.FreshFacts``: a customer written without
graph objects) and those later rows are anchored from the identities it made; every other fact (block rows with an unknown identity or identities on several
customers, and the chunk's per-item facts) goes through the resolver in file order, and all events
are inserted in file order, so ids, anchors, customers, merges and review items come out as the
per-item path makes them (tests/domains/ingest/test_event_block.py compares both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from siyu.db.bulk import is_postgres
from siyu.domains.events import AcceptedEvent
from siyu.domains.identity import service as identity
from siyu.domains.ingest import repository as repo
from siyu.domains.ingest.schemas import IngestResult
from siyu.domains.ingest.service import (DISPATCHED, EventFact, IngestContext, Prepared, dispatch, drop_unknown_states,
                                         first_in_batch, write_events)
from siyu.domains.ingest.validation import ItemRejected, rejection
from siyu.kit.time import UTC, utcnow

Item = tuple[int, EventFact, identity.Normalised]


@dataclass(slots=True)
class EventBlock:
    """Accepted event rows as columns; ``index`` is each row's place among the chunk's outcomes."""

    index: list[int]
    event_id: list[str]
    type: list[str]
    occurred_at: list[Any]  # UTC datetimes; once stored: the text SQLite stores, "YYYY-MM-DD HH:MM:SS.ffffff"
    channel: list[str | None]
    properties: list[Any]  # dicts; once stored: JSON text
    kinds: tuple[str, ...]  # one per identity column, in header order
    lookups: list[list[str | None]]  # per identity column: the blind index, None for an empty cell
    values: list[list[str | None]]  # per identity column: the normalised value
    stored: bool = False  # times and properties in storage form

    @classmethod
    def empty(cls, kinds: tuple[str, ...]) -> EventBlock:
        """Return a block of no rows."""
        return cls([], [], [], [], [], [], kinds, [[] for _k in kinds], [[] for _k in kinds])

    def __len__(self) -> int:
        return len(self.event_id)

    def take(self, rows: list[int]) -> EventBlock:
        """Return the block of these rows, in this order."""
        def pick(col: list[Any]) -> list[Any]:
            return [col[j] for j in rows]
        return EventBlock(pick(self.index), pick(self.event_id), pick(self.type), pick(self.occurred_at),
                          pick(self.channel), pick(self.properties), self.kinds, [pick(c) for c in self.lookups],
                          [pick(c) for c in self.values], self.stored)

    def to_storage(self) -> EventBlock:
        """Turn times and properties into the text the events table stores (once: the reader process does it
        before handing the block over; in one process the writer does it for the rows that are not duplicates)."""
        if not self.stored:
            self.occurred_at = [t.isoformat(" ", "microseconds")[:26] for t in self.occurred_at]
            self.properties = [orjson.dumps(p, option=orjson.OPT_NON_STR_KEYS).decode() for p in self.properties]
            self.stored = True
        return self


@dataclass
class BlockPrepared(Prepared):
    """A prepared chunk whose plain rows travel as a block (the rest as per-item facts in ``items``)."""

    block: EventBlock = field(default_factory=lambda: EventBlock.empty(()))


def collect_block(outcomes: list[Any], block: EventBlock) -> BlockPrepared:
    """Make the prepared chunk of per-row outcomes, an int standing for a block row (as ``collect_events`` does)."""
    result = IngestResult()
    parsed: list[Item] = []
    seen: set[str] = set()
    keep: list[int] = []
    for index, outcome in enumerate(outcomes):
        if type(outcome) is int:
            if first_in_batch(seen, result, block.event_id[outcome]):
                block.index[outcome] = index
                keep.append(outcome)
        elif isinstance(outcome, ItemRejected):
            result.rejected.append(rejection(index, outcome))
        elif first_in_batch(seen, result, outcome[0].event_id):
            parsed.append((index, *outcome))
    return BlockPrepared(parsed, result, block=block if len(keep) == len(block) else block.take(keep))


def write_events_block(session: Session, ctx: IngestContext, prepared: Prepared) -> IngestResult:
    """Store a prepared chunk's events once each under the graph lock, as ``write_events`` would; return the counts."""
    block = getattr(prepared, "block", None)
    if not block:
        return write_events(session, ctx, prepared)
    result = prepared.result
    identity.lock(session)
    stored = repo.existing_event_ids(session, [e.event_id for _i, e, _n in prepared.items] + block.event_id)
    items = prepared.items
    if stored:
        items = [p for p in items if p[1].event_id not in stored]
        block = block.take([j for j, e in enumerate(block.event_id) if e not in stored])
        result.duplicates += len(stored)
    items = drop_unknown_states(session, items, result)
    result.accepted = len(items) + len(block)
    if result.accepted:
        _write(session, ctx, items, block.to_storage())
    result.rejected.sort(key=lambda r: r.index)
    return result


def anchored(ctx: IngestContext, block: Any, found: dict[str, Any],
             rows: list[int] | None = None) -> list[tuple[int, int] | None]:
    """Return each block row's (or each of ``rows``') (anchor identity, customer) when all its identities
    exist on one customer, else None.

    The most specific identity anchors the row, as the resolver's look-up answers it. ``block`` is a
    column block with ``kinds`` and ``lookups`` (events' or customer records').
    """
    kinds = ctx.ids.kinds
    ranked = sorted(range(len(block.kinds)), key=lambda c: (kinds.spec(block.kinds[c]).specificity, block.kinds[c]),
                    reverse=True)
    out: list[tuple[int, int] | None] = []
    columns = [block.lookups[c] for c in ranked]
    for row in zip(*columns) if rows is None else ([col[j] for col in columns] for j in rows):
        cid = anchor = None
        for lookup in row:
            if lookup is None:
                continue
            hit = found.get(lookup)
            if hit is None or (cid is not None and hit[3] != cid):
                anchor = None
                break
            if cid is None:
                anchor, cid = hit[0], hit[3]
        out.append(None if anchor is None else (anchor, cid))
    return out


def _anchors(ctx: IngestContext, block: EventBlock, found: dict[str, Any],
             rows: list[int] | None = None) -> list[int | None]:
    """Return each block row's (or each of ``rows``') anchor identity, as :func:`anchored` finds it."""
    return [None if hit is None else hit[0] for hit in anchored(ctx, block, found, rows)]


def fresh_facts(block: Any, slow: list[Any], found: dict[str, Any],
                cause: tuple[str, Sequence[str], Sequence[str]] | None = None) -> tuple[identity.FreshFacts, list[int]]:
    """Return the block rows of ``slow`` that create a customer of all-new identities, and the later block rows
    that name only identities one of them created (its person again: anchored on those, nothing to write).

    A creator is the first fact of the chunk to name each of its identities, none of them stored, and
    every other fact naming any of them is a block row naming nothing else. ``block`` is any block of
    identity columns (``kinds``, ``lookups``, ``values``); per-item facts in ``slow`` hold their Normalised
    third. ``cause``: the facts' cause type, and per block row its cause ref and UTC time as SQLite stores it
    (an event block's own event ids and times by default).
    """
    names = [[entry[3] for entry in x[2].items] if type(x) is not int
             else [lk for col in block.lookups if (lk := col[x]) is not None] for x in slow]
    first: dict[str, int] = {}  # lookup → the first place naming it
    more: dict[str, list[int]] = {}  # lookup → the later places naming it
    for place, mine in enumerate(names):
        for lookup in mine:
            if lookup in first:
                more.setdefault(lookup, []).append(place)
            else:
                first[lookup] = place
    at: list[int] = []
    rows: list[int] = []
    again: set[int] = set()  # places in slow
    if len(set(block.kinds)) == len(block.kinds):  # one identity per kind, as a per-item fact holds them
        for place, x in enumerate(slow):
            mine = names[place]
            if type(x) is not int or not mine or any(lk in found or first[lk] != place for lk in mine):
                continue
            later = {p for lk in mine if lk in more for p in more[lk]}
            if not later or all(type(slow[p]) is int and set(names[p]) <= set(mine) for p in later):
                at.append(place)
                rows.append(x)
                again.update(later)
    if again:  # each creator's place among the facts the resolver sees (not the later rows of its person)
        chosen = set(rows)
        places = [p for p in range(len(slow)) if p not in again]
        at = [n for n, p in enumerate(places) if type(slow[p]) is int and slow[p] in chosen]
    ctype, refs, occurred = cause or ("event", block.event_id, block.occurred_at)
    return identity.FreshFacts(ctype, at, rows, refs, occurred, block.kinds, block.values, block.lookups), \
        [slow[p] for p in sorted(again)]


def _block_fact(block: EventBlock, specs: list[Any], j: int) -> identity.FactIdentities:
    items = [(specs[c], kind, block.values[c][j], lookup)
             for c, kind in enumerate(block.kinds) if (lookup := block.lookups[c][j]) is not None]
    when = datetime.fromisoformat(block.occurred_at[j]).replace(tzinfo=UTC)
    return identity.FactIdentities("event", block.event_id[j], when, items)


def _write(session: Session, ctx: IngestContext, items: list[Item], block: EventBlock) -> None:
    lookups = {lk for col in block.lookups for lk in col if lk is not None}
    lookups.update(entry[3] for _i, _e, n in items for entry in n.items)
    found = identity.known_identities(session, lookups)  # one look-up, shared with the resolver
    anchors = _anchors(ctx, block, found)
    # file order of every fact: (index, item) for per-item facts, (index, block row) for block rows
    order = sorted([(i, p) for p in items for i in (p[0],)] + [(block.index[j], j) for j in range(len(block))],
                   key=lambda x: x[0]) if items else [(block.index[j], j) for j in range(len(block))]
    slow = [x for _i, x in order if type(x) is not int or anchors[x] is None]
    fresh, again = fresh_facts(block, slow, found)  # rows creating one customer each: written from the columns
    chosen = set(fresh.rows).union(again)
    rest = [x for x in slow if type(x) is not int or x not in chosen] if chosen else slow
    specs = [ctx.ids.kinds.spec(kind) for kind in block.kinds]
    facts = [identity.FactIdentities("event", x[1].event_id, x[1].occurred_at, x[2].items) if type(x) is not int
             else _block_fact(block, specs, x) for x in rest]
    resolved, made = identity.resolver(session, ctx.ids).resolve_with_fresh(facts, found, fresh) \
        if slow else ([], {})
    if made:  # the fresh rows and their people's later rows: all their identities on one new customer
        mine = list(chosen)
        for j, anchor in zip(mine, _anchors(ctx, block, made, mine), strict=True):
            anchors[j] = anchor
    landed = {id(x) if type(x) is not int else ~x: r for x, r in zip(rest, resolved, strict=True)}
    postgres = is_postgres(session)
    now = utcnow()
    received = _stored_time(now, postgres)
    rows: list[tuple[Any, ...]] = []
    handled: list[tuple[Item, identity.Resolved]] = []
    for _i, x in order:
        if type(x) is int:
            anchor = anchors[x] if anchors[x] is not None else landed[~x].anchor_id
            occurred = block.occurred_at[x] + "+00:00" if postgres else block.occurred_at[x]
            rows.append((block.event_id[x], block.type[x], occurred, anchor, block.channel[x], block.properties[x]))
            continue
        e, r = x[1], landed[id(x)]
        if e.type in DISPATCHED:
            handled.append((x, r))
            continue
        rows.append((e.event_id, e.type, _stored_time(e.occurred_at, postgres), r.anchor_id, e.channel,
                     orjson.dumps(e.properties, option=orjson.OPT_NON_STR_KEYS).decode()))
    repo.insert_event_rows(session, rows, received)
    ids = repo.insert_events_returning(session, [
        {"event_id": e.event_id, "type": e.type, "occurred_at": e.occurred_at, "received_at": now,
         "identity_id": r.anchor_id, "channel": e.channel, "properties": e.properties} for (_i, e, _n), r in handled])
    identity.record_junk(session, [row for _i, e, n in items if n.junk
                                   for row in identity.junk_issue_rows(n.junk, "event", e.event_id)])
    dispatch(session, ctx.settings, [
        AcceptedEvent(pk, e.event_id, e.type, e.occurred_at, r.anchor_id, r.customer_id, e.channel, e.properties,
                      r.identity_ids) for pk, ((_i, e, _n), r) in zip(ids, handled, strict=True)])


def _stored_time(value: datetime, postgres: bool) -> str:
    """Return a time as the events table's driver-level insert stores it (SQLite: UTC text without offset)."""
    text = value.astimezone(UTC).isoformat(" ", "microseconds")
    return text if postgres else text[:26]
