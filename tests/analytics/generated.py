"""A generated brand for the analytics tests, and the plain definitions of connections.

People who share phones (so ingestion merges them), contacts added and deleted, group joins and
leaves, orders paid and refunded in part, at times around midnight in Asia/Shanghai.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from siyu.domains.groups.models import GroupMembership
from siyu.domains.staff.models import Ownership
from siyu.kit.time import UTC

FIRST = date(2026, 3, 1)
DAYS = 12


def _moment(rng: random.Random) -> datetime:
    """A time near a Shanghai midnight (16:00 UTC) on one of the days, or anywhere in a day."""
    day = datetime(2026, 2, 28, 16, tzinfo=UTC) + timedelta(days=rng.randrange(DAYS))
    return day + timedelta(minutes=rng.choice([rng.randrange(-90, 90), rng.randrange(0, 1440)]))


def _identities(rng: random.Random, person: int) -> dict[str, str]:
    phone = f"139{27450000 + (person % 20) * 1373:08d}"
    roll = rng.random()
    if roll < 0.2:  # a phone alone: a customer of its own until the phone is seen with a unionid (merge)
        return {"phone": phone}
    uid = f"oUnion{person:022d}"
    return {"unionid": uid, "phone": phone} if roll < 0.4 else {"unionid": uid}


def batch(rng: random.Random, n: int, step: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events, orders = [], []
    for k in range(n):
        person, at = rng.randrange(30), _moment(rng)
        kind = rng.choice(["page_viewed", "page_viewed", "contact_added", "contact_deleted_by_customer",
                           "contact_deleted_by_staff", "group_joined", "group_left", "order"])
        ids = _identities(rng, person)
        if kind == "order":
            oid = f"o{step}-{k}"
            orders.append({"order_id": oid, "status": "created", "occurred_at": at.isoformat(), "amount": "100.00",
                           "identities": ids})
            if rng.random() < 0.8:
                orders.append({"order_id": oid, "status": "paid", "occurred_at": (at + timedelta(minutes=5)).isoformat(),
                               "amount": "100.00"})
                if rng.random() < 0.3:
                    orders.append({"order_id": oid, "status": "refunded", "refund_id": "r1", "refund_amount": "30.00",
                                   "occurred_at": (at + timedelta(days=2)).isoformat(), "amount": "100.00"})
            continue
        props: dict[str, Any] = {}
        if kind.startswith("contact"):
            props["staff_userid"] = f"s{rng.randrange(3)}"
        if kind.startswith("group"):
            props["chat_id"] = f"g{rng.randrange(3)}"
        events.append({"event_id": f"e{step}-{k}", "type": kind, "occurred_at": at.isoformat(), "identities": ids,
                       "properties": props})
    return events, orders


def connections(s: Any, owner: dict[int, int]) -> dict[int, list[tuple[datetime, datetime | None]]]:
    out: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for r in s.scalars(select(Ownership)):
        out[owner[r.identity_id]].append((r.added_at, r.removed_at))
    for g in s.scalars(select(GroupMembership)):
        out[owner[g.identity_id]].append((g.joined_at, g.left_at))
    return out


def covers(spans: list[tuple[datetime, datetime | None]], t: datetime, *, before: bool) -> bool:
    """Whether a connection is open at ``t`` (or, with ``before``, just before ``t``)."""
    if before:
        return any(a < t and (b is None or b >= t) for a, b in spans)
    return any(a <= t and (b is None or b > t) for a, b in spans)


def moves(conns: dict[int, list[tuple[datetime, datetime | None]]], inside: Any) -> dict[str, set[int]]:
    """Customers who entered / were lost in the period, straight from the definitions in analytics/health.py."""
    out: dict[str, set[int]] = {"entered": set(), "lost": set()}
    for cid, spans in conns.items():
        for a, b in spans:
            if b is not None and b <= a:
                continue
            if inside(a) and not covers(spans, a, before=True):
                out["entered"].add(cid)
            if b is not None and inside(b) and not covers(spans, b, before=False):
                out["lost"].add(cid)
    return out
