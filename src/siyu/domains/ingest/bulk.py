"""A fast, exact writer for large generated histories (``siyu demo`` at scale, benchmarks).

It takes the same batches the services would (events, then orders, of one batch in one
transaction) and leaves the same database state, but skips what a trusted generator makes
redundant:

* no pydantic validation: items are typed rows built by the generator (identities normalised
  through :func:`identity.normalise_all`, memoised per identity set);
* no resolver round trip for *steady* facts: a fact whose identities were all seen together in
  one customer by an earlier batch cannot change the graph (identities only ever move together
  when customers merge, and the demo never splits), so its anchor is the most specific of them,
  exactly what the resolver would pick. Every other fact (new identities, bridges, conflicts,
  junk, contact and group events, whose handlers need the live customer) goes through the
  resolver, in order, one call per batch;
* order headers, lines and facts are inserted with driver-level ``executemany`` and ids reserved
  up front instead of ``RETURNING``; order summaries follow the rules of
  :class:`siyu.domains.ingest.orders.OrderBatchWriter` (state from memory for orders this writer
  created, from the database otherwise).

Events are written with the service's own statements and contact/group events are handed to the
same :func:`service.dispatch`, so channel codes, ownership, tags, the welcome outbox and group
membership follow exactly the rules of the API path. ``tests/demo`` checks both paths produce the
same identities, customers, merges, events and orders for the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from siyu.domains.channel_codes import service as channel_codes
from siyu.domains.events import AcceptedEvent
from siyu.domains.identity import service as identity
from siyu.domains.identity.resolver import FactIdentities, Resolved
from siyu.domains.ingest import repository as repo
from siyu.domains.ingest.schemas import IngestResult, Rejection
from siyu.domains.ingest.service import DISPATCHED, IngestContext, dispatch
from siyu.kit.time import UTC, utcnow

Idents = tuple[tuple[str, str], ...]


class EventRow(Protocol):
    """What the bulk writer reads from a generated event."""

    t: int
    event_id: str
    type: str
    channel: str | None
    idents: Idents
    props: dict[str, Any]


class OrderRow(Protocol):
    """What the bulk writer reads from a generated order fact (money in fen)."""

    t: int
    order_id: str
    status: str
    amount_fen: int
    channel: str
    store: str | None
    idents: Idents
    lines: tuple[tuple[str, str, str, int, int], ...]
    refund_fen: int
    refund_id: str | None


@dataclass(slots=True)
class _Order:
    pk: int | None
    amount_fen: int
    refunded_fen: int
    status: str
    updated_at: datetime
    paid_at: datetime | None
    first: OrderRow | None = None
    anchor: int | None = None
    changed: bool = False


def _time(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class BulkWriter:
    """Writes generated batches; keeps the steady-identity map and open orders between batches."""

    def __init__(self, ctx: IngestContext):
        self.ctx = ctx
        self.settled: dict[str, tuple[int, int]] = {}  # lookup -> (identity id, customer id when seen together)
        self.norms: dict[Idents, identity.Normalised] = {}
        self.orders: dict[str, _Order] = {}

    def end_block(self) -> None:
        """Forget the caches of a finished block of people (their facts are all written)."""
        self.norms.clear()
        self.orders.clear()

    def _norm(self, idents: Idents) -> identity.Normalised:
        norm = self.norms.get(idents)
        if norm is None:
            norm = self.norms[idents] = identity.normalise_all(self.ctx.ids, dict(idents))
        return norm

    def _steady(self, norm: identity.Normalised) -> tuple[int, dict[str, int]] | None:
        """Return (anchor id, {kind: id}) when every identity was already seen together in one customer."""
        tokens = set()
        ids: dict[str, int] = {}
        best: tuple[int, str] | None = None
        anchor = 0
        for spec, kind, _value, lookup in norm.items:
            known = self.settled.get(lookup)
            if known is None:
                return None
            tokens.add(known[1])
            ids[kind] = known[0]
            if best is None or (spec.specificity, kind) > best:
                best, anchor = (spec.specificity, kind), known[0]
        return (anchor, ids) if len(tokens) == 1 else None

    def _resolve(self, session: Session, facts: list[FactIdentities]) -> list[Resolved]:
        resolved = identity.resolver(session, self.ctx.ids).resolve(facts) if facts else []
        for fact, res in zip(facts, resolved, strict=True):
            if len(res.identity_ids) == len(fact.items):
                for _spec, kind, _value, lookup in fact.items:
                    self.settled[lookup] = (res.identity_ids[kind], res.customer_id)
        return resolved

    def write_demo_batch(self, session: Session, _ctx: IngestContext, events: list[Any],
                         orders: list[Any]) -> tuple[IngestResult, IngestResult]:
        """Write one batch: its events, then its orders (the order the demo's service path uses)."""
        done_events = self.write_events(session, events) if events else IngestResult()
        done_orders = self.write_orders(session, orders) if orders else IngestResult()
        return done_events, done_orders

    # -- events ----------------------------------------------------------------------------------
    def write_events(self, session: Session, events: list[EventRow]) -> IngestResult:
        """Store generated events (unique ids, fresh to the database) like ``ingest_events`` would."""
        result = IngestResult()
        items: list[tuple[EventRow, identity.Normalised]] = []
        for index, event in enumerate(events):
            norm = self._norm(event.idents)
            if not norm.items:
                result.rejected.append(Rejection(index=index, code="no_valid_identity", message="only placeholders"))
                continue
            items.append((event, norm))
        identity.lock(session)
        items = self._known_states(session, items, result)
        result.accepted = len(items)
        steady = {n: self._steady(norm) for n, (e, norm) in enumerate(items) if e.type not in DISPATCHED}
        need = [n for n in range(len(items)) if steady.get(n) is None]
        resolved = dict(zip(need, self._resolve(session, [
            FactIdentities("event", items[n][0].event_id, _time(items[n][0].t), items[n][1].items) for n in need]),
            strict=True))
        now = utcnow()
        rows, handled = [], []
        for n, (event, _norm) in enumerate(items):
            res = resolved.get(n)
            anchor = res.anchor_id if res else steady[n][0]  # type: ignore[index]
            rows.append({"event_id": event.event_id, "type": event.type, "occurred_at": _time(event.t),
                         "received_at": now, "identity_id": anchor, "channel": event.channel,
                         "properties": event.props})
            if event.type in DISPATCHED:
                handled.append(n)
        repo.insert_events(session, [r for (e, _n), r in zip(items, rows, strict=True) if e.type not in DISPATCHED])
        pks = repo.insert_events_returning(session, [rows[n] for n in handled])
        identity.record_junk(session, [row for e, norm in items if norm.junk
                                       for row in identity.junk_issue_rows(norm.junk, "event", e.event_id)])
        dispatch(session, self.ctx.settings, [
            AcceptedEvent(pk, items[n][0].event_id, items[n][0].type, rows[n]["occurred_at"], resolved[n].anchor_id,
                          resolved[n].customer_id, items[n][0].channel, items[n][0].props, resolved[n].identity_ids)
            for pk, n in zip(pks, handled, strict=True)])
        return result

    @staticmethod
    def _known_states(session: Session, items: list[tuple[EventRow, identity.Normalised]],
                      result: IngestResult) -> list[tuple[EventRow, identity.Normalised]]:
        states = {e.props.get("state") for e, _n in items if e.type == "contact_added" and e.props.get("state")}
        if not states:
            return items
        known = channel_codes.known_states(session, states)  # type: ignore[arg-type]
        kept = [(e, n) for e, n in items if not (e.type == "contact_added" and e.props.get("state")
                                                 and e.props.get("state") not in known)]
        for _x in range(len(items) - len(kept)):
            result.rejected.append(Rejection(index=0, code="unknown_state", message="no channel code has this state"))
        return kept

    # -- orders ----------------------------------------------------------------------------------
    def _load_orders(self, session: Session, orders: list[OrderRow]) -> dict[str, _Order]:
        states = {o.order_id: self.orders[o.order_id] for o in orders if o.order_id in self.orders}
        unknown = sorted({o.order_id for o in orders} - states.keys())
        for oid, r in repo.orders_by_external_id(session, unknown).items():
            states[oid] = self.orders[oid] = _Order(r.id, r.amount_fen, r.refunded_fen, r.status, r.updated_at,
                                                    r.paid_at)
        return states

    def _admit(self, orders: list[OrderRow], states: dict[str, _Order],
               result: IngestResult) -> tuple[list[OrderRow], list[str]]:
        admitted, new = [], []
        for index, fact in enumerate(orders):
            state = states.get(fact.order_id)
            when = _time(fact.t)
            if state is None:
                if not self._norm(fact.idents).items:
                    result.rejected.append(Rejection(index=index, code="missing_identities", message="no identities"))
                    continue
                state = states[fact.order_id] = self.orders[fact.order_id] = _Order(
                    None, fact.amount_fen, 0, fact.status, when, None, fact)
                new.append(fact.order_id)
            refund = fact.refund_fen if fact.status == "refunded" else 0
            if state.refunded_fen + refund > state.amount_fen:
                result.rejected.append(Rejection(index=index, code="refund_exceeds_amount", message="too much"))
                continue
            state.refunded_fen += refund
            if when >= state.updated_at or (state.pk is None and fact is state.first):
                status = fact.status if fact.status != "refunded" else (
                    "refunded" if state.refunded_fen >= state.amount_fen else "partially_refunded")
                state.status, state.updated_at = status, when
            if fact.status == "paid" and (state.paid_at is None or when < state.paid_at):
                state.paid_at = when
            state.changed = True
            admitted.append(fact)
        return admitted, new

    def _anchor_orders(self, session: Session, admitted: list[OrderRow], states: dict[str, _Order]) -> None:
        with_ids = [f for f in admitted if self._norm(f.idents).items]
        steady = {id(f): self._steady(self._norm(f.idents)) for f in with_ids}
        need = [f for f in with_ids if steady[id(f)] is None]
        resolved = dict(zip((id(f) for f in need), self._resolve(session, [
            FactIdentities("order", f"{f.order_id}:{f.status}", _time(f.t), self._norm(f.idents).items)
            for f in need]), strict=True))
        for fact in with_ids:
            res = resolved.get(id(fact))
            states[fact.order_id].anchor = res.anchor_id if res else steady[id(fact)][0]  # type: ignore[index]

    def write_orders(self, session: Session, orders: list[OrderRow]) -> IngestResult:
        """Store generated order facts (fresh to the database) like ``ingest_orders`` would."""
        result = IngestResult()
        identity.lock(session)
        states = self._load_orders(session, orders)
        admitted, new = self._admit(orders, states, result)
        result.accepted = len(admitted)
        if not admitted:
            return result
        self._anchor_orders(session, admitted, states)
        now = utcnow()
        for oid, pk in zip(new, repo.reserve_order_ids(session, len(new)), strict=True):
            states[oid].pk = pk
        repo.insert_orders_with_ids(session, [self._header(oid, states[oid]) for oid in new])
        repo.insert_order_items_fast(session, [
            {"order_pk": states[oid].pk, "sku": s, "name": n, "category": c, "quantity": q, "unit_price_fen": p,
             "amount_fen": q * p} for oid in new for s, n, c, q, p in states[oid].first.lines])  # type: ignore[union-attr]
        repo.insert_order_facts_fast(session, [
            {"order_pk": states[f.order_id].pk, "status": f.status,
             "fact_key": (f.refund_id or "") if f.status == "refunded" else "",
             "amount_fen": f.refund_fen if f.status == "refunded" else f.amount_fen, "occurred_at": _time(f.t),
             "received_at": now, "properties": {}} for f in admitted])
        fresh = set(new)
        repo.update_order_summaries(session, [
            {"pk": s.pk, "new_status": s.status, "new_refunded": s.refunded_fen, "new_paid_at": s.paid_at,
             "new_updated_at": s.updated_at} for oid, s in states.items() if s.changed and oid not in fresh])
        for s in states.values():
            s.changed = False
        identity.record_junk(session, [row for f in admitted if self._norm(f.idents).junk
                                       for row in identity.junk_issue_rows(self._norm(f.idents).junk, "order",
                                                                           f.order_id)])
        return result

    @staticmethod
    def _header(order_id: str, s: _Order) -> dict[str, Any]:
        first = s.first
        assert first is not None
        return {"id": s.pk, "order_id": order_id, "identity_id": s.anchor, "channel": first.channel,
                "store": first.store, "currency": "CNY", "amount_fen": s.amount_fen, "refunded_fen": s.refunded_fen,
                "status": s.status, "placed_at": _time(first.t), "paid_at": s.paid_at, "updated_at": s.updated_at,
                "properties": {}}


def demo_counts(session: Session) -> dict[str, int]:
    """Return the headline counts of a loaded database (customers, merges, identities, facts, staff, codes)."""
    return repo.fact_counts(session)
