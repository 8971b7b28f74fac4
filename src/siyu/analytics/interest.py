"""Content-interest tags: what each customer cares about, learned from what they do with content.

Definitions (docs/segments.md#content-interest-tags; the tests' plain reference computes exactly these):

- A **content action** is an event of the standard catalogue (docs/events.md) carrying the content's
  ``topic`` (or, failing that, ``category``) as a text property: ``content_viewed`` (weight 1),
  ``content_clicked`` (2), ``content_shared`` (3), ``content_favourited`` (4) and
  ``content_commented`` (4), the ones the demo brand emits among them.
- **Bought after**: a paid order credits each distinct topic the customer acted on in the
  ``attribution_days`` (7) before its payment with weight 8, dated on the payment.
- Each credit **decays** with its age in whole brand-local days: ``weight * 0.5 ** (age / half_life)``
  (``SIYU_INTEREST_HALF_LIFE_DAYS``, 30 by default); a customer's score for a topic is the sum.
- The customer's ``top`` topics (``SIYU_INTEREST_TOP``, 3) scoring at least ``min_score`` (1.0)
  become tags ``兴趣:<topic>`` of kind ``interest`` in the group ``兴趣``; a topic that falls out of
  the top loses its tag (the hold is closed, so history says when an interest began and faded).

Scores are written to ``interest_scores`` (explainable per customer). The full computation streams
the content actions once; the incremental one (the refresher, after new facts) recomputes only the
customers given. Facts anchor on identities, so a merged customer's actions count for the survivor.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, case, func, literal, select
from sqlalchemy.orm import Session

from siyu.db.bulk import chunks
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.orders import Order
from siyu.domains.tags import service as tags
from siyu.kit.time import local_day, utcnow

ACTIONS = {"content_viewed": 1.0, "content_clicked": 2.0, "content_shared": 3.0, "content_favourited": 4.0,
           "content_commented": 4.0}
BOUGHT_AFTER = 8.0
GROUP = "兴趣"
PREFIX = "兴趣:"


@dataclass(frozen=True)
class InterestParams:
    """How interests are weighed and how many become tags."""

    half_life_days: float = 30.0
    top: int = 3
    min_score: float = 1.0
    attribution_days: int = 7


@dataclass
class InterestOutcome:
    customers: int
    tagged: int
    seconds: float


def _topic(postgres: bool) -> object:
    """The ``topic`` (else ``category``) text property of an event, else NULL."""
    def text(key: str) -> object:
        if postgres:
            node = Event.properties.op("->")(literal(key, String))
            return case((func.jsonb_typeof(node) == "string", Event.properties.op("->>")(literal(key, String))))
        path = literal(f"$.{key}", String)
        return case((func.json_type(Event.properties, path) == "text", func.json_extract(Event.properties, path)))
    return func.coalesce(text("topic"), text("category"))


def _actions(postgres: bool, customers: Sequence[int] | None) -> Select[tuple[int, str, str, datetime]]:
    topic = _topic(postgres)
    query = (select(Identity.customer_id, topic, Event.type, Event.occurred_at).select_from(Event)
             .join(Identity, Identity.id == Event.identity_id)
             .where(Event.type.in_(sorted(ACTIONS)), topic.is_not(None)))
    return query.where(Identity.customer_id.in_(customers)) if customers is not None else query


def _payments(customers: Sequence[int] | None) -> Select[tuple[int, datetime]]:
    query = (select(Identity.customer_id, Order.paid_at).join(Identity, Identity.id == Order.identity_id)
             .where(Order.paid_at.is_not(None)))
    return query.where(Identity.customer_id.in_(customers)) if customers is not None else query


def scores(session: Session, tz: ZoneInfo, now: datetime, params: InterestParams,
           customers: Sequence[int] | None = None) -> dict[int, dict[str, float]]:
    """Return {customer: {topic: score}} as of ``now`` (only ``customers`` when given)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    today = local_day(now, tz)
    acted: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    out: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    parts: Iterable[Sequence[int] | None] = [None] if customers is None else chunks(sorted(customers), 1000)
    for part in parts:
        for cid, topic, etype, at in session.execute(_actions(postgres, part)):
            if at > now:
                continue
            acted[cid].append((at, topic))
            out[cid][topic] += ACTIONS[etype] * _decay(today, local_day(at, tz), params)
        paid: dict[int, list[datetime]] = defaultdict(list)
        for cid, at in session.execute(_payments(part)):
            if cid in acted and at <= now:
                paid[cid].append(at)
        for cid, times in paid.items():
            _credit_purchases(out[cid], sorted(acted[cid]), times, tz, today, params)
    return {cid: dict(topics) for cid, topics in out.items()}


def _decay(today: date, day: date, params: InterestParams) -> float:
    return 0.5 ** (max(0, (today - day).days) / params.half_life_days)


def _credit_purchases(topics: dict[str, float], acted: list[tuple[datetime, str]], payments: list[datetime],
                      tz: ZoneInfo, today: date, params: InterestParams) -> None:
    """Credit each distinct topic acted on in the attribution days before each payment."""
    times = [a for a, _t in acted]
    span = timedelta(days=params.attribution_days)
    for paid_at in payments:
        lo, hi = bisect_left(times, paid_at - span), bisect_right(times, paid_at)
        for topic in {t for _a, t in acted[lo:hi]}:
            topics[topic] += BOUGHT_AFTER * _decay(today, local_day(paid_at, tz), params)


def top_topics(topics: dict[str, float], params: InterestParams) -> list[str]:
    """Return the topics that become tags: the highest ``top`` scoring at least ``min_score`` (ties by name)."""
    ranked = sorted(((-score, topic) for topic, score in topics.items() if score >= params.min_score))
    return [topic for _s, topic in ranked[:params.top]]


@dataclass
class Computed:
    """Interest scores and tags worked out for some customers, to be written by :func:`apply`."""

    customers: list[int]  # everyone whose scores and interest tags are replaced, ascending
    live: int  # how many of them are live customers (the others only lose what they held)
    desired: dict[int, list[str]]  # customer -> interest tag names (absent: none)
    rows: dict[int, list[dict[str, Any]]]  # customer -> interest_scores rows
    at: datetime


def compute(session: Session, tz: ZoneInfo, params: InterestParams, *, customers: Sequence[int] | None = None,
            now: datetime | None = None) -> Computed:
    """Work out interest scores and tags (of every customer, or of ``customers``) without writing.

    Every customer: each live one, and each that holds scores or interest tags now (a merged-away
    customer loses them).
    """
    now = now or utcnow()
    found = scores(session, tz, now, params, customers)
    live = _live(session, found) if customers is None else _live(session, customers)
    touched = (live | tags.interest_customers(session)) if customers is None else live
    desired = {cid: [PREFIX + t for t in top_topics(found[cid], params)] for cid in live if cid in found}
    rows = {cid: [{"customer_id": cid, "topic": topic[:64], "score": round(score, 6), "computed_at": now}
                  for topic, score in found[cid].items()] for cid in live if cid in found}
    return Computed(sorted(touched), len(live), {c: d for c, d in desired.items() if d}, rows, now)


def apply(session: Session, computed: Computed, customers: Sequence[int]) -> None:
    """Write the computed scores and interest tags of ``customers`` (a slice of ``computed.customers``)."""
    tags.set_interest_scores(session, customers, [r for cid in customers for r in computed.rows.get(cid, ())])
    tags.set_interests(session, {cid: computed.desired.get(cid, []) for cid in customers}, group=GROUP,
                       at=computed.at, everyone=False)


def refresh(session: Session, tz: ZoneInfo, params: InterestParams, *, customers: Sequence[int] | None = None,
            now: datetime | None = None) -> InterestOutcome:
    """Recompute interest scores and interest tags (of every customer, or of ``customers``)."""
    started = time.perf_counter()
    computed = compute(session, tz, params, customers=customers, now=now)
    apply(session, computed, computed.customers)
    return InterestOutcome(computed.live, len(computed.desired), time.perf_counter() - started)


def _live(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    live: set[int] = set()
    for part in chunks(wanted):
        live.update(session.scalars(select(Customer.id).where(Customer.id.in_(part), Customer.merged_into_id.is_(None))))
    return live
