"""Order facts: parse, dedupe by (order_id, status, refund_id), resolve, write, summarise.

An order's first fact creates the order (and needs identities); later facts (paid, delivered,
refunded in full or in part…) append to its history and update its summary: ``status`` follows
the latest fact by time, ``refunded_fen`` sums the refunds and may never exceed the amount.
The first fact that carries ``items`` gives the order its lines; ``items`` of any other fact (a
partial refund's lines, say) are kept with that fact, as sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from siyu.domains.identity import service as identity
from siyu.domains.ingest import repository as repo
from siyu.domains.ingest.schemas import IngestResult, OrderIn
from siyu.domains.ingest.validation import ItemRejected, parse_item, rejection
from siyu.kit.money import to_fen
from siyu.kit.time import UTC, utcnow


class OrderFact(NamedTuple):
    """The fields of a validated order fact the writer needs, as plain values (cheap to pickle)."""

    order_id: str
    status: str
    occurred_at: datetime
    currency: str
    channel: str | None
    store: str | None
    refund_id: str | None
    properties: dict[str, Any]


@dataclass(slots=True)
class OrderFactIn:
    """A validated order fact with money in fen."""

    order: OrderFact
    norm: identity.Normalised
    amount_fen: int
    refund_fen: int
    lines: list[dict[str, Any]]

    @property
    def key(self) -> tuple[str, str, str]:
        """Return the idempotency key (order_id, status, refund id or '')."""
        return self.order.order_id, self.order.status, (self.order.refund_id or "") if self.order.status == "refunded" else ""


def _fen(value: Any, field: str) -> int:
    try:
        return to_fen(value)
    except ValueError as exc:
        raise ItemRejected("invalid_amount", f"{field}: {exc}", field) from exc


def parse_order(raw: Any, max_props: int, normalise: Callable[[dict[str, Any]], identity.Normalised]) -> OrderFactIn:
    """Validate one order fact; raise ItemRejected with a code that says what to fix."""
    order = parse_item(OrderIn, raw, max_props)
    amount = _fen(order.amount, "amount")
    refund = 0
    if order.status == "refunded":
        refund = amount if order.refund_amount is None else _fen(order.refund_amount, "refund_amount")
        if refund > amount:
            raise ItemRejected("refund_exceeds_amount", "refund_amount is larger than the order amount", "refund_amount")
    elif order.refund_amount is not None or order.refund_id is not None:
        raise ItemRejected("invalid_value", "refund_amount and refund_id belong to status 'refunded' only", "refund_amount")
    lines = []
    for n, line in enumerate(order.items):
        unit = _fen(line.unit_price, f"items.{n}.unit_price")
        total = unit * line.quantity if line.amount is None else _fen(line.amount, f"items.{n}.amount")
        lines.append({"sku": line.sku, "name": line.name, "category": line.category, "quantity": line.quantity,
                      "unit_price_fen": unit, "amount_fen": total})
    fact = OrderFact(order.order_id, order.status, order.occurred_at.astimezone(UTC), order.currency, order.channel, order.store,
                     order.refund_id, order.properties)
    return OrderFactIn(fact, normalise(order.identities), amount, refund, lines)


@dataclass
class _OrderState:
    pk: int | None
    identity_id: int | None
    amount_fen: int
    refunded_fen: int
    status: str
    updated_at: datetime
    paid_at: datetime | None
    is_new: bool
    first: OrderFactIn | None = None
    changed: bool = False
    lines: list[dict[str, Any]] | None = None  # to insert: from the first fact that has any


def _summary_status(state: _OrderState, fact: OrderFactIn) -> str:
    if fact.order.status == "refunded":
        return "refunded" if state.refunded_fen >= state.amount_fen else "partially_refunded"
    return fact.order.status


class OrderBatchWriter:
    """Writes one batch of parsed order facts inside the caller's transaction (graph lock held)."""

    def __init__(self, session: Session, ids: identity.IdentityContext, result: IngestResult):
        self.session, self.ids, self.result = session, ids, result

    def _load(self, facts: list[tuple[int, OrderFactIn]]) -> tuple[dict[str, _OrderState], set[tuple[int, str, str]]]:
        existing = repo.orders_by_external_id(self.session, sorted({f.order.order_id for _i, f in facts}))
        states = {oid: _OrderState(r.id, r.identity_id, r.amount_fen, r.refunded_fen, r.status, r.updated_at, r.paid_at,
                                   False) for oid, r in existing.items()}
        keys = repo.existing_fact_keys(self.session, [s.pk for s in states.values()])  # type: ignore[misc]
        return states, keys

    def _admit(self, facts: list[tuple[int, OrderFactIn]]) -> tuple[list[tuple[int, OrderFactIn]], dict[str, _OrderState]]:
        states, stored = self._load(facts)
        seen: set[tuple[str, str, str]] = set()
        admitted = []
        for index, fact in facts:
            state = states.get(fact.order.order_id)
            if fact.key in seen or (state and state.pk is not None and (state.pk, *fact.key[1:]) in stored):
                self.result.duplicates += 1
                continue
            if state is None:
                if not fact.norm.items:
                    self.result.rejected.append(rejection(index, ItemRejected(
                        "missing_identities", "the first fact of an order needs identities", "identities")))
                    continue
                state = states[fact.order.order_id] = _OrderState(None, None, fact.amount_fen, 0, fact.order.status,
                                                                  fact.order.occurred_at, None, True, fact)
            if state.refunded_fen + fact.refund_fen > state.amount_fen:
                self.result.rejected.append(rejection(index, ItemRejected(
                    "refund_exceeds_amount", "refunds would exceed the order amount", "refund_amount")))
                continue
            seen.add(fact.key)
            if fact.lines and state.lines is None:
                state.lines = fact.lines
            state.refunded_fen += fact.refund_fen
            if fact.order.occurred_at >= state.updated_at or state.is_new and fact is state.first:
                state.status, state.updated_at = _summary_status(state, fact), fact.order.occurred_at
            if fact.order.status == "paid" and (state.paid_at is None or fact.order.occurred_at < state.paid_at):
                state.paid_at = fact.order.occurred_at
            state.changed = True
            admitted.append((index, fact))
        return admitted, states

    def write(self, facts: list[tuple[int, OrderFactIn]]) -> None:
        """Dedupe, resolve identities, insert new orders, their lines and facts, update summaries."""
        admitted, states = self._admit(facts)
        self.result.accepted += len(admitted)
        if not admitted:
            return
        with_ids = [(i, f) for i, f in admitted if f.norm.items]
        resolved = identity.resolver(self.session, self.ids).resolve(
            [identity.FactIdentities("order", f"{f.order.order_id}:{f.order.status}", f.order.occurred_at, f.norm.items)
             for _i, f in with_ids])
        anchor = {f.order.order_id: r.anchor_id for (_i, f), r in zip(with_ids, resolved, strict=True)}
        now = utcnow()
        new = [(oid, s) for oid, s in states.items() if s.is_new and s.changed]
        pks = repo.insert_orders(self.session, [self._header(oid, s, anchor[oid], now) for oid, s in new])
        for (_oid, state), pk in zip(new, pks, strict=True):
            state.pk = pk
        self._drop_lines_of_orders_that_have_some(states)
        repo.insert_order_items(self.session, [
            {**line, "order_pk": s.pk} for s in states.values() if s.changed and s.lines for line in s.lines])
        fact_pks = repo.insert_order_facts(self.session, [  # FACT_COLUMNS
            (states[f.order.order_id].pk, f.order.status, f.key[2],
             f.refund_fen if f.order.status == "refunded" else f.amount_fen, f.order.occurred_at, now, f.order.properties)
            for _i, f in admitted])
        repo.insert_order_fact_items(self.session, [  # lines of facts that did not become the order's lines
            {**line, "fact_pk": pk} for (_i, f), pk in zip(admitted, fact_pks, strict=True)
            if f.lines and states[f.order.order_id].lines is not f.lines for line in f.lines])
        repo.update_order_summaries(self.session, [
            {"pk": s.pk, "new_status": s.status, "new_refunded": s.refunded_fen, "new_paid_at": s.paid_at,
             "new_updated_at": s.updated_at} for s in states.values() if s.changed and not s.is_new])
        junk = [row for _i, f in admitted if f.norm.junk
                for row in identity.junk_issue_rows(f.norm.junk, "order", f.order.order_id)]
        identity.record_junk(self.session, junk)

    def _drop_lines_of_orders_that_have_some(self, states: dict[str, _OrderState]) -> None:
        """An order's lines come from its first fact that carries any: drop those of orders already holding lines."""
        known = [s for s in states.values() if not s.is_new and s.changed and s.lines]
        if known:
            have = repo.orders_with_lines(self.session, [s.pk for s in known])  # type: ignore[misc]
            for state in known:
                if state.pk in have:
                    state.lines = None

    @staticmethod
    def _header(order_id: str, s: _OrderState, identity_id: int, now: datetime) -> tuple[Any, ...]:
        """Return a new order's row as a tuple of repo.ORDER_COLUMNS."""
        first = s.first
        assert first is not None
        return (order_id, identity_id, first.order.channel, first.order.store, first.order.currency, s.amount_fen,
                s.refunded_fen, s.status, first.order.occurred_at, s.paid_at, s.updated_at, first.order.properties)
