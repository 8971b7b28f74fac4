"""A generated brand for the segment tests, and a plain Python reference of the rule language.

The brand has customers with every profile field (birthdays on 29 February too), custom attributes
of mixed types, merged customers (tombstones that still hold tags, identities moved to the survivor),
follow relations open and closed, group stays, events with properties around Shanghai midnights,
paid and refunded orders with items, scores and a stored segment. The reference reads every table
with plain selects and evaluates a parsed rule customer by customer, with nothing shared with the
SQL compiler but the parsed tree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from factories import make_channel_code, make_customer, make_identity, make_staff
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.domains.customers.models import Customer
from siyu.domains.events.models import Event
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.identity.models import Identity
from siyu.domains.orders.models import Order, OrderItem
from siyu.domains.scores.models import CustomerScore
from siyu.domains.segments import rules as r
from siyu.domains.segments.models import Segment, SegmentMembership
from siyu.domains.staff.models import Ownership, Staff
from siyu.domains.tags.models import CustomerTag, Tag
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 2, 27, 17, 30, tzinfo=UTC)  # 01:30 on 28 Feb in Shanghai: the UTC day is still the 27th
TOPICS = ("新品", "茶知识", "门店", "会员")
CITIES = ("上海", "杭州", "北京", None)
SKUS = (("T001", "奶茶"), ("T004", "咖啡"), ("S001", "茶叶"), ("G001", "礼盒"))
KINDS = ("phone", "unionid", "openid:wxmini", "openid:wxoa", "external_userid")


def _moment(rng: random.Random, days: int = 60) -> datetime:
    """A time in the 60 days before NOW, half of them within 90 minutes of a Shanghai midnight."""
    midnight = datetime(2026, 2, 27, 16, tzinfo=UTC) - timedelta(days=rng.randrange(days))
    if rng.random() < 0.5:
        return midnight + timedelta(minutes=rng.randrange(-90, 90))
    return midnight + timedelta(minutes=rng.randrange(0, 1440))


def _birthday(rng: random.Random) -> date | None:
    roll = rng.random()
    if roll < 0.12:
        return None
    if roll < 0.2:
        return date(rng.choice([1992, 1996, 2000]), 2, 29)
    if roll < 0.45:  # near NOW's day, so anniversaries and ages turn over inside the tests' windows
        return date(rng.randrange(1970, 2010), 2, 1) + timedelta(days=rng.randrange(20, 40))
    return date(rng.randrange(1960, 2012), rng.randrange(1, 13), rng.randrange(1, 29))


def _attributes(rng: random.Random) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if rng.random() < 0.7:
        attrs["tier"] = rng.choice(["gold", "silver", "Gold", "bronze"])
    if rng.random() < 0.6:
        attrs["points"] = rng.choice([0, 50, 120, 120.5, 999])
    if rng.random() < 0.5:
        attrs["vip"] = rng.random() < 0.5
    if rng.random() < 0.1:
        attrs["points"] = "lots"  # a string where others hold numbers: never a number
    return attrs


def build(session: Session, vault: PiiVault, seed: int = 7, people: int = 70) -> dict[str, Any]:
    """Insert the brand; return handles the tests use (segment id, staff, codes)."""
    rng = random.Random(seed)
    staff = [make_staff(session, f"s{i}") for i in range(3)]
    codes = [make_channel_code(session, f"码{i}") for i in range(3)]
    groups = [CustomerGroup(chat_id=f"wr{i}", name=f"群{i}", created_at=NOW) for i in range(3)]
    session.add_all(groups)
    session.flush()
    tags = {name: Tag(name=name, created_at=NOW) for name in ("VIP", "高意向", "老客")}
    session.add_all(tags.values())
    segment = Segment(name="stored", rule={"identity": "phone"}, created_by="test", created_at=NOW, updated_at=NOW)
    session.add(segment)
    session.flush()
    live: list[Customer] = []
    for i in range(people):
        customer = make_customer(
            session, vault, gender=rng.choice(["male", "female", "unknown"]), birthday=_birthday(rng),
            region=rng.choice(["华东", "华北", None]), city=rng.choice(CITIES),
            source_platform=rng.choice(["douyin", "store", "taobao", None]),
            source_channel_code_id=rng.choice([codes[0].id, None, None]), first_seen_at=_moment(rng),
            attributes=_attributes(rng))
        live.append(customer)
        for kind in rng.sample(KINDS, rng.randrange(1, 4)):
            ident = make_identity(session, vault, customer.id, kind, f"{kind}-{i}")
            _facts(session, rng, ident, staff, codes, groups)
        if rng.random() < 0.4:
            tag = rng.choice(list(tags.values()))
            session.add(CustomerTag(customer_id=customer.id, tag_id=tag.id, source="manual",
                                    added_at=_moment(rng), removed_at=NOW if rng.random() < 0.2 else None))
        if rng.random() < 0.7:
            session.add(CustomerScore(customer_id=customer.id, as_of=NOW, computed_at=NOW, rfm_r=rng.randrange(1, 6),
                                      rfm_f=rng.randrange(1, 6), rfm_m=rng.randrange(1, 6),
                                      rfm_segment=rng.choice(["important_value", "general_winback", None]),
                                      aipl_stage=rng.choice(["awareness", "purchase", "loyalty"]),
                                      lifecycle_tier=rng.choice(["new", "loyal", "churned"]),
                                      clv=Decimal(rng.randrange(0, 50000)) / 100, expected_purchases=rng.random() * 3,
                                      p_alive=rng.random()))
        if rng.random() < 0.5:
            session.add(SegmentMembership(segment_id=segment.id, customer_id=customer.id, entered_at=NOW,
                                          exited_at=NOW if rng.random() < 0.3 else None))
    for n in range(8):  # tombstones: merged into a live customer, keeping a tag (their identities moved)
        survivor = live[n * 5]
        ghost = make_customer(session, vault, merged_into_id=survivor.id, city="上海", gender="female",
                              first_seen_at=_moment(rng))
        session.add(CustomerTag(customer_id=ghost.id, tag_id=tags["VIP"].id, source="manual", added_at=_moment(rng)))
        ident = make_identity(session, vault, survivor.id, "phone", f"merged-{n}")
        _facts(session, rng, ident, staff, codes, groups)
    session.flush()
    return {"segment": segment.id, "staff": [s.userid for s in staff], "codes": [c.id for c in codes]}


def _facts(session: Session, rng: random.Random, ident: Identity, staff: list[Staff], codes: list[Any],
           groups: list[CustomerGroup]) -> None:
    """Give one identity follow relations, group stays, events and orders."""
    if rng.random() < 0.5:
        session.add(Ownership(identity_id=ident.id, staff_id=rng.choice(staff).id,
                              channel_code_id=rng.choice([c.id for c in codes] + [None]), source="import",
                              added_at=_moment(rng), removed_at=NOW if rng.random() < 0.3 else None))
    if rng.random() < 0.4:
        session.add(GroupMembership(group_id=rng.choice(groups).id, identity_id=ident.id, joined_at=_moment(rng),
                                    left_at=NOW if rng.random() < 0.3 else None))
    for k in range(rng.randrange(0, 6)):
        props: dict[str, Any] = {"topic": rng.choice(TOPICS), "content_id": f"c{rng.randrange(5)}"}
        if rng.random() < 0.3:
            props["seconds"] = rng.choice([5, 30, 90.5])
        if rng.random() < 0.2:
            props["topic"] = rng.randrange(3)  # a number where others hold text
        if rng.random() < 0.2:
            props["liked"] = rng.random() < 0.5
        session.add(Event(event_id=f"e{ident.id}-{k}", type=rng.choice(["content_viewed", "content_viewed", "page_viewed"]),
                          occurred_at=_moment(rng), received_at=NOW, identity_id=ident.id, channel="mini_program",
                          properties=props))
    for k in range(rng.randrange(0, 3)):
        amount = rng.choice([1000, 5000, 12345])
        placed = _moment(rng)
        paid = rng.random() < 0.85
        order = Order(order_id=f"o{ident.id}-{k}", identity_id=ident.id, channel="mall", amount_fen=amount,
                      refunded_fen=rng.choice([0, 0, 500]) if paid else 0, status="paid" if paid else "created",
                      placed_at=placed, paid_at=placed + timedelta(minutes=3) if paid else None, updated_at=placed)
        session.add(order)
        session.flush()
        for sku, category in rng.sample(SKUS, rng.randrange(1, 3)):
            session.add(OrderItem(order_pk=order.id, sku=sku, name=sku, category=category, quantity=1,
                                  unit_price_fen=amount, amount_fen=amount))


# -- the reference ------------------------------------------------------------------------------


@dataclass
class World:
    """Every row the rules can read, as plain tuples and dicts."""

    customers: dict[int, Customer]
    identities: list[tuple[int, int, str]]
    ownerships: list[tuple[int, str, int | None, datetime | None]]
    stays: list[tuple[int, str, datetime, datetime | None]]
    tags: list[tuple[int, str, datetime, datetime | None]]
    events: list[tuple[int, str, datetime, dict[str, Any]]]
    orders: list[tuple[int, int, datetime | None, int, int]]
    items: dict[int, list[tuple[str, str | None]]]
    scores: dict[int, CustomerScore]
    memberships: list[tuple[int, int, datetime | None]]
    owner_of: dict[int, int] = field(default_factory=dict)  # identity id → customer id


def load(session: Session) -> World:
    """Read every table the rule language reads."""
    staff = {s.id: s.userid for s in session.scalars(select(Staff))}
    chats = {g.id: g.chat_id for g in session.scalars(select(CustomerGroup))}
    tag_names = {t.id: t.name for t in session.scalars(select(Tag))}
    items: dict[int, list[tuple[str, str | None]]] = {}
    for item in session.scalars(select(OrderItem)):
        items.setdefault(item.order_pk, []).append((item.sku, item.category))
    world = World(
        customers={c.id: c for c in session.scalars(select(Customer))},
        identities=[(i.id, i.customer_id, i.kind) for i in session.scalars(select(Identity))],
        ownerships=[(o.identity_id, staff[o.staff_id], o.channel_code_id, o.removed_at) for o in session.scalars(select(Ownership))],
        stays=[(m.identity_id, chats[m.group_id], m.joined_at, m.left_at) for m in session.scalars(select(GroupMembership))],
        tags=[(t.customer_id, tag_names[t.tag_id], t.added_at, t.removed_at) for t in session.scalars(select(CustomerTag))],
        events=[(e.identity_id, e.type, e.occurred_at, e.properties) for e in session.scalars(select(Event))],
        orders=[(o.id, o.identity_id, o.paid_at, o.amount_fen, o.refunded_fen) for o in session.scalars(select(Order))],
        items=items, scores={s.customer_id: s for s in session.scalars(select(CustomerScore))},
        memberships=[(m.segment_id, m.customer_id, m.exited_at) for m in session.scalars(select(SegmentMembership))])
    world.owner_of = {i: c for i, c, _k in world.identities}
    return world


def local(t: datetime) -> date:
    return t.astimezone(TZ).date()


def today() -> date:
    return local(NOW)


def in_window(t: datetime, w: r.Window) -> bool:
    day = local(t)
    if w.last_days is not None:
        return today() - timedelta(days=w.last_days - 1) <= day <= today()
    return (w.start is None or day >= w.start) and (w.end is None or day <= w.end)


def test_value(value: Any, test: r.Compare) -> bool:
    """Apply a comparison the way the language defines it: negations are plain NOT; missing is false."""
    op, v = test.op, test.value
    negations = {"ne": "eq", "not_in": "in", "not_set": "is_set", "not_exists": "exists"}
    if op in negations:
        return not test_value(value, r.Compare(negations[op], v))
    if op in ("is_set", "exists"):
        return value is not None
    if value is None:
        return False
    if isinstance(value, float | int) and not isinstance(value, bool) and isinstance(v, Decimal | tuple):
        value = Decimal(str(value))
    return {"eq": lambda: value == v, "in": lambda: value in v, "gt": lambda: value > v, "gte": lambda: value >= v,
            "lt": lambda: value < v, "lte": lambda: value <= v, "between": lambda: v[0] <= value <= v[1],
            "contains": lambda: v in value, "starts_with": lambda: value.startswith(v),
            "ends_with": lambda: value.endswith(v)}[op]()


def typed(doc: dict[str, Any], key: str, kind: str) -> Any:
    """Return ``doc[key]`` when it is of ``kind``; JSON null and other types are missing."""
    value = doc.get(key)
    if kind == "any" or value is None:
        return value
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return value if isinstance(value, str) else None
