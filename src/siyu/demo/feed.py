"""A block of simulated people as the bulk loader takes it: identity work for the graph, then history rows.

The batches are exactly those the service path sends (``runner.batches``: the block's facts in
time order, cut every ``batch`` facts; each batch's events, then its orders; the block's CRM
records last, ``batch`` at a time), and every id is allocated in the order the services would
have produced it: per batch, the events not handed to a domain handler, then those that are;
new orders in order of their first fact; their lines; every admitted order fact.

:meth:`Feed.prepare` does everything that needs no identity id (normalisation and blind indexes,
order summaries, refusals, profile encryption) and returns the :class:`Work` for the graph side
plus what it keeps to finish the block; :meth:`Feed.rows` turns that into table rows once the
graph side has answered with the anchor of every fact. Ids are given out in :meth:`Feed.rows`, block
after block, so blocks can be prepared ahead and in either process: a block's orders are numbered
from 1 when it is prepared and moved past the previous blocks' when its rows are made, and
``Work.ids`` says how many ids of each history table a block takes (:meth:`Feed.skip` moves a
feed past a block whose rows another process made).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from datetime import date
from typing import Any

import orjson

from siyu.demo.people import DemoEvent, DemoOrder, Person, batches
from siyu.domains.customers.service import normalise_name
from siyu.domains.identity import service as identity
from siyu.domains.ingest.bulk import EventFact, Norm, OrderFact
from siyu.domains.ingest.bulk_history import Clock
from siyu.domains.ingest.service import DISPATCHED
from siyu.kit.crypto import mask_name
from siyu.kit.time import utcnow

Idents = tuple[tuple[str, str], ...]


@dataclass
class Work:
    """What the graph side needs for one block (plain tuples: cheap to send to another process)."""

    norms: list[Norm]
    batches: list[tuple[list[EventFact], list[OrderFact]]]
    records: list[list[Record]]
    rejected: Counter[str] = field(default_factory=Counter)
    ids: dict[str, int] = field(default_factory=dict)  # ids of each history table the block's rows take


@dataclass
class Anchors:
    """The graph side's answer for one block: per batch, the anchor of each event and order fact sent."""

    batches: list[tuple[Any, Any]]


@dataclass
class BlockRows:
    """A block's history rows, made where the block was prepared and resolved (events, orders, lines, facts)."""

    rows: tuple[list[Any], list[Any], list[Any], list[Any]]


@dataclass(slots=True)
class _Order:
    pk: int  # from 1 within the block until its rows are made, then the stored id
    amount: int
    refunded: int
    status: str
    updated: int
    paid: int | None
    first: DemoOrder
    batch: int
    anchor: int = 0
    keys: tuple[tuple[str, str], ...] = ()  # (status, fact key) of every admitted fact (one or two: no set)


@dataclass
class _Pending:
    events: list[list[DemoEvent]]  # per batch, accepted events in the order sent
    orders: list[list[tuple[DemoOrder, int, _Order]]]  # per batch, admitted facts, index among those sent, order
    new: list[list[_Order]]  # per batch, orders created
    states: list[_Order]


class Feed:
    """Turns blocks of people into loader work and rows; holds the id counters of the history tables."""

    def __init__(self, ids: identity.IdentityContext, states: set[str], batch: int, end: int, tops: dict[str, int]):
        self.ids, self.states, self.batch, self.end = ids, states, batch, end
        self.next = {t: n + 1 for t, n in tops.items()}
        self._pk = 1

    # -- before the graph -----------------------------------------------------------------------------------
    def prepare(self, people: list[Person]) -> tuple[Work, _Pending]:
        """Return the block's identity work and what is kept to write its rows."""
        norms: list[Norm] = []
        index: dict[Idents, int] = {}
        self._pk = 1  # the block's orders in first-fact order; Feed.rows moves them past the previous blocks'

        def norm(idents: Idents) -> int:
            nid = index.get(idents)
            if nid is None:
                items, junk = _normalise(self.ids, idents)
                nid = index[idents] = len(norms)
                anchor, best = 0, None  # the most specific identity (max(): the first of equals)
                for i, entry in enumerate(items):
                    rank = (entry[0].specificity, entry[1])
                    if best is None or rank > best:
                        anchor, best = i, rank
                norms.append((tuple([(k, v, lk) for _s, k, v, lk in items]), tuple(junk), anchor))
            return nid

        work = Work(norms, [], [])
        pending = _Pending([], [], [], [])
        states: dict[str, _Order] = {}
        for number, facts in enumerate(batches(people, self.batch)):
            events: list[EventFact] = []
            kept: list[DemoEvent] = []
            orders: list[DemoOrder] = []
            for f in facts:
                if f.__class__ is DemoOrder:
                    orders.append(f)  # type: ignore[arg-type]
                    continue
                nid = index.get(f.idents)
                if nid is None:
                    nid = norm(f.idents)
                if not norms[nid][0]:
                    work.rejected["no_valid_identity"] += 1
                elif f.type == "contact_added" and f.props.get("state") and f.props["state"] not in self.states:
                    work.rejected["unknown_state"] += 1
                else:
                    events.append((f.event_id, f.t, nid, f.type, f.props if f.type in DISPATCHED else None))
                    kept.append(f)  # type: ignore[arg-type]
            sent, admitted, new = self._orders(orders, states, number, index, norm, norms, work)
            work.batches.append((events, sent))
            pending.events.append(kept)
            pending.orders.append(admitted)
            pending.new.append(new)
        pending.states = list(states.values())
        work.ids = {"events": sum(map(len, pending.events)), "orders": len(states),
                    "order_items": sum(len(o.first.lines) for o in pending.states),
                    "order_facts": sum(map(len, pending.orders))}
        t = self.end - 3600
        records = [(f"crm:{p.index}", norm(_crm_idents(p)), t, self._profile(p), p.owner) for p in people]
        work.records = [records[i:i + self.batch] for i in range(0, len(records), self.batch)]
        return work, pending

    def _orders(self, facts: list[DemoOrder], states: dict[str, _Order], number: int, index: dict[Idents, int],
                norm: Any, norms: list[Norm], work: Work) -> tuple[list[OrderFact], list[tuple[DemoOrder, int, _Order]],
                                                                  list[_Order]]:
        """Admit a batch's order facts like OrderBatchWriter; allocate ids of new orders in first-fact order."""
        sent: list[OrderFact] = []
        admitted: list[tuple[DemoOrder, int, _Order]] = []
        new: list[_Order] = []
        rejected = work.rejected
        pk = self._pk
        for f in facts:
            status, oid, t = f.status, f.order_id, f.t
            refunded = status == "refunded"
            key = (status, f.refund_id or "") if refunded else _PLAIN_KEYS.get(status) or (status, "")
            state = states.get(oid)
            if state is not None and key in state.keys:
                continue  # a duplicate fact: the services count it and store nothing
            nid = -1
            idents = f.idents
            if idents:
                nid = index.get(idents)
                if nid is None:
                    nid = norm(idents)
            if state is None:
                if nid < 0 or not norms[nid][0]:
                    rejected["missing_identities"] += 1
                    continue
                state = states[oid] = _Order(0, f.amount_fen, 0, status, t, None, f, number)
            refund = f.refund_fen if refunded else 0
            if state.refunded + refund > state.amount:
                rejected["refund_exceeds_amount"] += 1
                if not state.pk:
                    del states[oid]  # never stored: the next fact starts it afresh
                continue
            if not state.pk:
                state.pk = pk
                pk += 1
                new.append(state)
            state.keys += (key,)
            if refunded:
                state.refunded += refund
            if t >= state.updated or (state.batch == number and f is state.first):
                state.status = ("refunded" if state.refunded >= state.amount else "partially_refunded") if refunded \
                    else status
                state.updated = t
            if status == "paid" and (state.paid is None or t < state.paid):
                state.paid = t
            if nid >= 0:
                admitted.append((f, len(sent), state))
                sent.append((oid, status, t, nid))
            else:
                admitted.append((f, -1, state))
        self._pk = pk
        return sent, admitted, new

    def _profile(self, p: Person) -> tuple[str, str, str, str, date, str, str, dict[str, Any]]:
        name = normalise_name(p.name)
        vault = self.ids.vault
        return (vault.encrypt(name), vault.blind_index("name", name), mask_name(name), p.gender,
                date.fromisoformat(p.birthday), p.region, p.city, {"source": p.source, "member": bool(p.member_no)})

    # -- after the graph ------------------------------------------------------------------------------------
    def rows(self, pending: _Pending, anchors: Anchors, clock: Clock) -> tuple[list[Any], list[Any], list[Any],
                                                                            list[Any]]:
        """Return the block's event, order, order-line and order-fact rows, ids in service order."""
        received = clock.wall(utcnow())
        events: list[Any] = []
        items: list[Any] = []
        facts: list[Any] = []
        nxt = self.next
        shift = nxt["orders"] - 1
        for state in pending.states:
            state.pk += shift
        nxt["orders"] += len(pending.states)
        event_id, item_id, fact_id = nxt["events"], nxt["order_items"], nxt["order_facts"]
        add_event, add_item, add_fact = events.append, items.append, facts.append
        dumps, keys = orjson.dumps, orjson.OPT_NON_STR_KEYS  # json_text, inlined
        for number, (event_anchors, order_anchors) in enumerate(anchors.batches):
            batch_events = pending.events[number]
            for dispatched in (False, True):  # events kept by ingestion first, then those handed to handlers
                for e, anchor in zip(batch_events, event_anchors):
                    if (e.type in DISPATCHED) is dispatched:
                        add_event((event_id, e.event_id, e.type, e.t, received, anchor, e.channel,
                                   dumps(e.props, option=keys).decode()))
                        event_id += 1
            admitted = pending.orders[number]
            for _f, sent, state in admitted:  # a header takes the anchor of its batch's last fact
                if sent >= 0 and state.batch == number and order_anchors[sent]:
                    state.anchor = order_anchors[sent]
            for order in pending.new[number]:
                pk = order.pk
                for line in order.first.lines:
                    add_item((item_id, pk, *line, line[3] * line[4]))
                    item_id += 1
            for f, _sent, state in admitted:
                if f.status == "refunded":
                    add_fact((fact_id, state.pk, "refunded", f.refund_id or "", f.refund_fen, f.t, received, "{}"))
                else:
                    add_fact((fact_id, state.pk, f.status, "", f.amount_fen, f.t, received, "{}"))
                fact_id += 1
        nxt["events"], nxt["order_items"], nxt["order_facts"] = event_id, item_id, fact_id
        orders = [(s.pk, s.first.order_id, s.anchor, s.first.channel, s.first.store, "CNY", s.amount, s.refunded,
                   s.status, s.first.t, s.paid, s.updated, "{}") for s in sorted(pending.states, key=_pk_of)]
        if not clock.sqlite:  # rows above hold epoch seconds, as SQLite takes them; PostgreSQL takes text
            events = _stamped(events, (3,), clock)
            orders = _stamped(orders, (9, 10, 11), clock)
            facts = _stamped(facts, (5,), clock)
        return events, orders, items, facts

    def skip(self, ids: dict[str, int]) -> None:
        """Move the id counters past a block whose rows were made elsewhere (``Work.ids``)."""
        for table, count in ids.items():
            self.next[table] += count

    def _take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


_pk_of = attrgetter("pk")
_PLAIN_KEYS = {status: (status, "") for status in ("paid", "created", "delivered", "shipped", "completed", "cancelled")}


def _stamped(rows: list[Any], columns: tuple[int, ...], clock: Clock) -> list[Any]:
    """Return ``rows`` with the epoch seconds (or None) in ``columns`` replaced by what ``clock`` writes."""
    out = []
    for row in rows:
        row = list(row)
        for c in columns:
            if row[c] is not None:
                row[c] = clock(row[c])
        out.append(tuple(row))
    return out


def _normalise(ids: identity.IdentityContext, idents: Idents) -> tuple[list[Any], list[tuple[str, str]]]:
    """Return what ``identity.normalise_all`` makes of ``idents`` (items, junk), remembered values first."""
    if len(idents) > 1 and len({kind for kind, _v in idents}) < len(idents):  # a kind twice: the last one counts
        n = identity.normalise_all(ids, dict(idents))
        return n.items, n.junk
    memo = ids.memo
    items: list[Any] = []
    junk: list[tuple[str, str]] = []
    for pair in idents:
        entry = memo.get(pair) or identity.normalise_entry(ids, *pair)
        if entry[0] == "junk":
            junk.append((pair[0], entry[1]))
        else:
            items.append(entry)
    return items, junk


def _crm_idents(p: Person) -> Idents:
    return (("phone", p.phone), ("member_no", p.member_no)) if p.member_no else (("phone", p.phone),)
