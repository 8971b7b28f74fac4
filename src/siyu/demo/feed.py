"""A block of simulated people as the bulk loader takes it: identity work for the graph, then history rows.

The batches are exactly those the service path sends (``runner.batches``: the block's facts in
time order, cut every ``batch`` facts; each batch's events, then its orders; the block's CRM
records last, ``batch`` at a time), and every id is allocated in the order the services would
have produced it: per batch, the events not handed to a domain handler, then those that are;
new orders in order of their first fact; their lines; every admitted order fact.

:meth:`Feed.prepare` does everything that needs no identity id (normalisation and blind indexes,
order summaries, refusals, profile encryption) and returns the :class:`Work` for the graph side
plus what it keeps to finish the block; :meth:`Feed.rows` turns that into table rows once the
graph side has answered with the anchor of every fact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from datetime import date
from typing import Any

from siyu.demo.people import DemoEvent, DemoOrder, Person, batches
from siyu.domains.customers.service import normalise_name
from siyu.domains.identity import service as identity
from siyu.domains.ingest.bulk import EventFact, Norm, OrderFact
from siyu.domains.ingest.bulk_history import Clock, json_text
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


@dataclass
class Anchors:
    """The graph side's answer for one block: per batch, the anchor of each event and order fact sent."""

    batches: list[tuple[Any, Any]]


@dataclass(slots=True)
class _Order:
    pk: int
    amount: int
    refunded: int
    status: str
    updated: int
    paid: int | None
    first: DemoOrder
    batch: int
    anchor: int = 0
    keys: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class _Pending:
    events: list[list[DemoEvent]]  # per batch, accepted events in the order sent
    orders: list[list[tuple[DemoOrder, int]]]  # per batch, admitted facts and their index among those sent
    new: list[list[_Order]]  # per batch, orders created
    states: list[_Order]
    by_id: dict[str, int] | None = None


class Feed:
    """Turns blocks of people into loader work and rows; holds the id counters of the history tables."""

    def __init__(self, ids: identity.IdentityContext, states: set[str], batch: int, end: int, tops: dict[str, int]):
        self.ids, self.states, self.batch, self.end = ids, states, batch, end
        self.next = {t: n + 1 for t, n in tops.items()}

    # -- before the graph -----------------------------------------------------------------------------------
    def prepare(self, people: list[Person]) -> tuple[Work, _Pending]:
        """Return the block's identity work and what is kept to write its rows."""
        norms: list[Norm] = []
        index: dict[Idents, int] = {}

        def norm(idents: Idents) -> int:
            nid = index.get(idents)
            if nid is None:
                n = identity.normalise_all(self.ids, dict(idents))
                nid = index[idents] = len(norms)
                anchor = max(range(len(n.items)), key=lambda i: (n.items[i][0].specificity, n.items[i][1]), default=0)
                norms.append((tuple((k, v, lk) for _s, k, v, lk in n.items), tuple(n.junk), anchor))
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
        t = self.end - 3600
        records = [(f"crm:{p.index}", norm(_crm_idents(p)), t, self._profile(p), p.owner) for p in people]
        work.records = [records[i:i + self.batch] for i in range(0, len(records), self.batch)]
        return work, pending

    def _orders(self, facts: list[DemoOrder], states: dict[str, _Order], number: int, index: dict[Idents, int],
                norm: Any, norms: list[Norm], work: Work) -> tuple[list[OrderFact], list[tuple[DemoOrder, int]],
                                                                  list[_Order]]:
        """Admit a batch's order facts like OrderBatchWriter; allocate ids of new orders in first-fact order."""
        sent: list[OrderFact] = []
        admitted: list[tuple[DemoOrder, int]] = []
        new: list[_Order] = []
        rejected = work.rejected
        for f in facts:
            status, oid, t = f.status, f.order_id, f.t
            refunded = status == "refunded"
            key = (status, (f.refund_id or "") if refunded else "")
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
                state.pk = self.next["orders"]
                self.next["orders"] += 1
                new.append(state)
            state.keys.add(key)
            if refunded:
                state.refunded += refund
            if t >= state.updated or (state.batch == number and f is state.first):
                state.status = ("refunded" if state.refunded >= state.amount else "partially_refunded") if refunded \
                    else status
                state.updated = t
            if status == "paid" and (state.paid is None or t < state.paid):
                state.paid = t
            if nid >= 0:
                admitted.append((f, len(sent)))
                sent.append((oid, status, t, nid))
            else:
                admitted.append((f, -1))
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
        event_id, item_id, fact_id = nxt["events"], nxt["order_items"], nxt["order_facts"]
        for number, (event_anchors, order_anchors) in enumerate(anchors.batches):
            batch_events = pending.events[number]
            for dispatched in (False, True):  # events kept by ingestion first, then those handed to handlers
                for e, anchor in zip(batch_events, event_anchors):
                    if (e.type in DISPATCHED) is dispatched:
                        events.append((event_id, e.event_id, e.type, clock(e.t), received, anchor, e.channel,
                                       json_text(e.props)))
                        event_id += 1
            states = {s.first.order_id: s for s in pending.new[number]}
            for f, sent in pending.orders[number]:
                state = states.get(f.order_id)
                if state is not None and sent >= 0 and order_anchors[sent]:
                    state.anchor = order_anchors[sent]  # a header takes the anchor of its batch's last fact
            for order in pending.new[number]:
                pk = order.pk
                for sku, name, category, quantity, unit in order.first.lines:
                    items.append((item_id, pk, sku, name, category, quantity, unit, quantity * unit))
                    item_id += 1
            pks = {s.first.order_id: s.pk for s in pending.new[number]}
            for f, _sent in pending.orders[number]:
                pk = pks.get(f.order_id) or self._pk(pending, f.order_id)
                if f.status == "refunded":
                    facts.append((fact_id, pk, "refunded", f.refund_id or "", f.refund_fen, clock(f.t), received, "{}"))
                else:
                    facts.append((fact_id, pk, f.status, "", f.amount_fen, clock(f.t), received, "{}"))
                fact_id += 1
        nxt["events"], nxt["order_items"], nxt["order_facts"] = event_id, item_id, fact_id
        orders = [(s.pk, s.first.order_id, s.anchor, s.first.channel, s.first.store, "CNY", s.amount, s.refunded,
                   s.status, clock(s.first.t), None if s.paid is None else clock(s.paid), clock(s.updated), "{}")
                  for s in sorted(pending.states, key=_pk_of)]
        return events, orders, items, facts

    @staticmethod
    def _pk(pending: _Pending, order_id: str) -> int:
        if pending.by_id is None:
            pending.by_id = {s.first.order_id: s.pk for s in pending.states}
        return pending.by_id[order_id]

    def _take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


_pk_of = attrgetter("pk")


def _crm_idents(p: Person) -> Idents:
    return (("phone", p.phone), ("member_no", p.member_no)) if p.member_no else (("phone", p.phone),)
