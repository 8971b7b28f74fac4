"""The customers list's activity filters list exactly the customers the definitions name.

The generated brand of the summaries test (merges, contacts added and deleted, group moves, orders, a
departure a colleague inherits, an unmerge) is listed through the customers service for every activity,
narrowing and period, with a tiny probe window and page size so that both steps of the listing and
its cursors are used; each list must equal the set computed plainly from the facts.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from analytics.generated import FIRST, batch, connections, covers, moves
from sqlalchemy import Engine, select

from siyu.analytics.moves import HealthMoves
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access import Principal
from siyu.domains.customers import Customer
from siyu.domains.customers import repository as customer_repo
from siyu.domains.customers import service as customers
from siyu.domains.customers.activity import parse_activity
from siyu.domains.customers.schemas import NONE
from siyu.domains.events import Event
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.identity import Identity, Merge
from siyu.domains.identity import service as identity
from siyu.domains.identity.service import IdentityContext
from siyu.domains.ingest import service as ingest
from siyu.domains.orders.models import Order
from siyu.domains.staff import service as staff
from siyu.domains.staff.models import Ownership, Staff
from siyu.kit.time import UTC, day_bounds_utc

ADMIN = Principal(actor="user:admin", role="admin")
PERIODS = [(FIRST + timedelta(days=a), FIRST + timedelta(days=b)) for a, b in [(0, 0), (0, 11), (2, 4), (6, 6), (9, 14)]]
Key = tuple[str, str | None, str | None]  # (activity, narrowing field, value)


def _brand(engine: Engine, settings: Settings) -> None:
    rng, ctx = random.Random(7), ingest.IngestContext.from_settings(settings)
    for step in range(4):
        events, orders = batch(rng, 60, step)
        with unit_of_work(engine) as s:
            ingest.ingest_events(s, ctx, events)
            ingest.ingest_orders(s, ctx, orders)
            if step == 1:
                s0, s1 = (staff.staff_by_userid(s, u).id for u in ("s0", "s1"))
                staff.depart_staff(s, s0, inherit_to=s1, actor="test", at=datetime(2026, 3, 5, 16, tzinfo=UTC))
    with unit_of_work(engine) as s:
        merge = s.scalars(select(Merge).order_by(Merge.id)).first()
        assert merge is not None
        identity.undo_merge(s, merge.id, actor="test", reason="two people")


def _expected(s: Any, first: date, last: date, tz: Any) -> dict[Key, set[int]]:
    """Return {(activity, narrowing, value): customers} computed plainly from the facts."""
    start, end = day_bounds_utc(first, tz)[0], day_bounds_utc(last, tz)[1]
    owner = dict(s.execute(select(Identity.id, Identity.customer_id)).all())
    live = {c.id for c in s.scalars(select(Customer)) if c.merged_into_id is None}
    inside = lambda t: t is not None and start <= t < end  # noqa: E731
    userid = dict(s.execute(select(Staff.id, Staff.userid)).all())
    chat = dict(s.execute(select(CustomerGroup.id, CustomerGroup.chat_id)).all())
    out: dict[Key, set[int]] = defaultdict(set)
    conns = connections(s, owner)
    out[("connected", None, None)] = {c for c, spans in conns.items() if covers(spans, end, before=True)}
    for kind, people in moves(conns, inside).items():
        out[(kind, None, None)] = people
    for r in s.scalars(select(Ownership)):
        who = owner[r.identity_id]
        if r.source != "transfer" and inside(r.added_at):
            for key in (None, ("activity_staff", userid[r.staff_id]),
                        ("activity_code", str(r.channel_code_id) if r.channel_code_id else NONE)):
                out[("contact_added", *(key or (None, None)))].add(who)
        if r.removed_by == "customer" and inside(r.removed_at):
            for key in (None, ("activity_staff", userid[r.staff_id])):
                out[("contact_deleted", *(key or (None, None)))].add(who)
    for g in s.scalars(select(GroupMembership)):
        for kind, at in (("group_joined", g.joined_at), ("group_left", g.left_at)):
            if inside(at):
                out[(kind, None, None)].add(owner[g.identity_id])
                out[(kind, "activity_group", chat[g.group_id])].add(owner[g.identity_id])
    out[("active", None, None)] = {owner[e.identity_id] for e in s.scalars(select(Event)) if inside(e.occurred_at)}
    paid = Counter(owner[o.identity_id] for o in s.scalars(select(Order))
                   if o.paid_at is not None and inside(o.placed_at))
    out[("ordered", None, None)] = set(paid)
    out[("repurchased", None, None)] = {c for c, n in paid.items() if n >= 2}
    return {k: v & live for k, v in out.items()}


def _listed(s: Any, settings: Settings, key: Key, first: date, last: date) -> set[int]:
    kind, field, value = key
    narrowing = {field.removeprefix("activity_"): value} if field else {}
    did = parse_activity(settings.tz, kind, None if kind == "connected" else first, last, moves=HealthMoves(settings.tz),
                         **narrowing)
    flt = customers.parse_filter(IdentityContext.from_settings(settings), activity=did)
    found: list[int] = []
    cursor = None
    while True:
        page = customers.list_customers(s, ADMIN, flt, cursor=cursor, limit=3)
        found += [c.id for c in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(found) == len(set(found)) and found == sorted(found, reverse=True)  # newest first, each once
    return set(found)


def test_activity_lists_equal_the_definitions(db_engine: Engine, settings: Settings, monkeypatch) -> None:
    _brand(db_engine, settings)
    monkeypatch.setattr(customer_repo, "PROBE_WINDOW", 7)  # both steps of a listing, on a small brand
    checked = Counter[str]()
    with unit_of_work(db_engine, write=False) as s:
        for first, last in PERIODS:
            expected = _expected(s, first, last, settings.tz)
            for key, people in sorted(expected.items(), key=lambda kv: tuple(map(str, kv[0]))):
                assert _listed(s, settings, key, first, last) == people, (key, first, last)
                checked[key[0]] += bool(people)
    # every activity listed somebody in some period (the brand exercises them all)
    assert set(checked) == {"connected", "entered", "lost", "contact_added", "contact_deleted", "group_joined",
                            "group_left", "active", "ordered", "repurchased"} and all(checked.values()), checked


def test_a_narrowing_that_names_nothing_lists_nobody(db_engine: Engine, settings: Settings) -> None:
    _brand(db_engine, settings)
    with unit_of_work(db_engine, write=False) as s:
        for key in (("contact_added", "activity_staff", "nobody"), ("group_left", "activity_group", "no-such-chat"),
                    ("contact_added", "activity_code", "999999")):
            assert _listed(s, settings, key, FIRST, FIRST + timedelta(days=11)) == set()
