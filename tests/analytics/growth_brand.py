"""A generated brand for the funnel, GMV, repurchase, value, attribution and staff analyses, and the plain
readings of its facts that the references start from.

People added through three channel codes by three staff members, some sharing a phone (ingestion merges
them), viewing content with properties, joining groups, paying orders refunded in part or in full; many
facts fall on the same second (ties) and around Shanghai midnight (16:00 UTC).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from factories import make_channel_code, make_staff
from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.events import Event
from siyu.domains.identity import Identity
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order, OrderFact
from siyu.domains.staff.models import Ownership
from siyu.kit.time import UTC

FIRST = date(2026, 5, 1)  # facts fall on 2026-05-01 … 2026-06-29 (brand days)
DAYS = 60
PEOPLE = 180
STAFF = ("fa", "fb", "fc")


def moment(rng: random.Random, base: int) -> datetime:
    """A time within 12 days of a person's first day: often on a shared second, often near Shanghai midnight."""
    offset = min(DAYS - 1, base + rng.randrange(12))
    day = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=UTC) - timedelta(hours=8) + timedelta(days=offset)
    roll = rng.random()
    if roll < 0.3:
        return day + timedelta(hours=rng.choice([10, 15]))  # shared seconds: ties between facts
    if roll < 0.55:
        return day + timedelta(days=1, seconds=rng.choice([-1, 0, 1]))  # 23:59:59, 00:00:00, 00:00:01 local
    return day + timedelta(seconds=rng.randrange(86400))


def _ids(p: int) -> dict[str, str]:
    ids = {"openid:wxmini": f"oG{p:05d}"}
    if p % 9 == 0:  # shares a phone with the next person: ingestion merges them
        ids["phone"] = f"1365000{p // 9:04d}"
    if p % 9 == 1:
        ids["phone"] = f"1365000{(p - 1) // 9:04d}"
    return ids


def facts(states: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the brand's events and orders."""
    rng = random.Random(2026)
    events: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    for p in range(PEOPLE):
        ids, base = _ids(p), rng.randrange(DAYS)
        for n in range(rng.choice([0, 1, 2, 3, 4])):
            props: dict[str, Any] = {"topic": rng.choice(["护肤", "彩妆"]), "value": rng.choice([5, 20, "15", "n/a"])}
            events.append({"event_id": f"g{p}-v{n}", "type": "content_viewed", "occurred_at": moment(rng, base).isoformat(),
                           "identities": ids, "properties": props})
        if rng.random() < 0.7:
            ext = {**ids, "external_userid": f"wmG{p:05d}"}
            at = moment(rng, base)
            events.append({"event_id": f"g{p}-c", "type": "contact_added", "occurred_at": at.isoformat(),
                           "identities": ext, "properties": {"state": rng.choice(states),
                                                              "staff_userid": rng.choice(STAFF)}})
            if rng.random() < 0.25:
                gone = at + timedelta(days=rng.randrange(0, 20))
                events.append({"event_id": f"g{p}-d", "type": "contact_deleted_by_customer",
                               "occurred_at": gone.isoformat(), "identities": {"external_userid": f"wmG{p:05d}"},
                               "properties": {"staff_userid": rng.choice(STAFF)}})
        for n in range(rng.choice([0, 1, 1, 2])):
            events.append({"event_id": f"g{p}-j{n}", "type": "group_joined", "occurred_at": moment(rng, base).isoformat(),
                           "identities": ids, "properties": {"chat_id": f"chat{rng.randrange(2)}"}})
        for n in range(rng.choice([0, 1, 1, 2, 3])):
            orders += _order(rng, p, n, ids, moment(rng, base))
    return events, orders


def _order(rng: random.Random, p: int, n: int, ids: dict[str, str], at: datetime) -> list[dict[str, Any]]:
    oid = f"G{p}-{n}"
    amount = rng.choice(["50.00", "99.00", "120.00", "300.00"])
    out = [{"order_id": oid, "status": "created", "occurred_at": (at - timedelta(minutes=3)).isoformat(),
            "amount": amount, "identities": ids}]
    if rng.random() < 0.85:
        out.append({"order_id": oid, "status": "paid", "occurred_at": at.isoformat(), "amount": amount})
        roll = rng.random()
        if roll < 0.15:  # refunded in full: not a purchase for funnels and repurchase
            out.append({"order_id": oid, "status": "refunded", "refund_id": "all", "refund_amount": amount,
                        "occurred_at": (at + timedelta(days=2)).isoformat(), "amount": amount})
        elif roll < 0.3:
            out.append({"order_id": oid, "status": "refunded", "refund_id": "part", "refund_amount": "20.00",
                        "occurred_at": (at + timedelta(days=1)).isoformat(), "amount": amount})
    return out


def load(engine: Engine, settings: Any) -> Engine:
    """Create the codes and staff, then ingest the brand into ``engine``."""
    with unit_of_work(engine) as s:
        states = [make_channel_code(s, name=f"码{k}", platform=plat).state
                  for k, plat in enumerate(["store", "douyin", "taobao"])]
        for userid in STAFF:
            make_staff(s, userid, name=f"导购{userid}")
    events, orders = facts(states)
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(engine) as s:
        assert not ingest.ingest_events(s, ctx, events).rejected
        assert not ingest.ingest_orders(s, ctx, orders).rejected
    return engine


@dataclass
class Reading:
    """The store's facts read plainly through the ORM, per customer after OneID."""

    owner: dict[int, int]  # identity id -> customer id
    events: list[Event]
    orders: list[tuple[int, int, datetime, int]]  # (order pk, customer, paid at, amount)
    refunds: dict[int, list[tuple[datetime, int]]]  # order pk -> [(when, amount)]
    customers: dict[int, Customer]
    ownerships: list[tuple[int, Ownership]]  # (customer, relation)

    def net(self, order_pk: int, amount: int, by: datetime) -> int:
        """Return an order's value less the refunds that happened before ``by``."""
        return amount - sum(a for when, a in self.refunds.get(order_pk, []) if when < by)


def read(engine: Engine) -> Reading:
    """Read the brand's facts plainly."""
    with unit_of_work(engine, write=False) as s:
        owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
        events = list(s.scalars(select(Event)))
        for e in events:
            s.expunge(e)
        orders = [(o.id, owner[o.identity_id], o.paid_at, o.amount_fen) for o in s.scalars(select(Order))
                  if o.paid_at is not None]
        refunds: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        for f in s.scalars(select(OrderFact).where(OrderFact.status == "refunded")):
            refunds[f.order_pk].append((f.occurred_at, f.amount_fen))
        customers = {c.id: c for c in s.scalars(select(Customer).where(Customer.merged_into_id.is_(None)))}
        for c in customers.values():
            s.expunge(c)
        ownerships = [(owner[o.identity_id], o) for o in s.scalars(select(Ownership))]
        for _, o in ownerships:
            s.expunge(o)
    return Reading(owner, events, orders, dict(refunds), customers, ownerships)
