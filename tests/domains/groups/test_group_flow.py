"""A group's daily joins and leaves over the last days (the group page's chart), and how SQLite finds them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from factories import make_customer, make_identity
from plans import sqlite_plans
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.groups import repository, service
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC, day_bounds_utc, local_day, utcnow


def test_the_flow_counts_each_brand_day_s_joins_and_leaves_of_the_group_only(db_engine: Engine,
                                                                            settings: Settings) -> None:
    tz = settings.tz
    today = local_day(utcnow(), tz)
    start = day_bounds_utc(today - timedelta(days=6), tz)[0]  # 00:00 of the window's first brand day, in UTC
    vault = PiiVault(settings.effective_secret_key)
    old = start - timedelta(days=40)
    # (joined, left) hours from the window's start; the group's other stays and another group's stay too
    stays = [(-960, None), (-960, 1), (-1, 3 * 24 - 1), (0, None), (30, 50), (24 * 6 + 5, None), (-2000, -1000)]
    with unit_of_work(db_engine) as s:
        ident = make_identity(s, vault, make_customer(s, vault).id, "external_userid", "wm-flow")
        group, other = (CustomerGroup(chat_id=c, name=c, created_at=old) for c in ("wr-flow", "wr-other"))
        s.add_all([group, other])
        s.flush()
        s.add_all([GroupMembership(group_id=g.id, identity_id=ident.id, joined_at=start + timedelta(hours=j),
                                   left_at=None if left is None else start + timedelta(hours=left))
                   for g, (j, left) in [*((group, st) for st in stays), (other, (2, 3))]])
        s.flush()
        flow = service.group_flow(s, group.id, 7, tz=tz)
    days = [today - timedelta(days=6 - i) for i in range(7)]
    assert [f.day for f in flow] == days
    # joins: hour 0 and 30 on days 0 and 1, hour 149 on day 6; leaves: hour 1 (day 0), 50 (day 2), 71 (day 2)
    assert [(f.joined, f.left) for f in flow] == [(1, 1), (1, 0), (0, 2), (0, 0), (0, 0), (0, 0), (1, 0)]


def test_sqlite_finds_the_window_s_moves_through_the_time_indexes(sqlite_template: Path, tmp_path: Path) -> None:
    """Not by walking every stay the group ever had on (group_id, left_at): the biggest group of the 1M store
    has 121k stays, 9.5k of them moving in the group page's 30 days (55 ms against 13 ms)."""
    at = datetime(2026, 10, 1, tzinfo=UTC)
    with sqlite_plans(sqlite_template, tmp_path) as plan_of:
        plan = " | ".join(plan_of(repository.moves_query(False, 1, at, at + timedelta(days=30))))
    assert "ix_group_memberships_joined_at" in plan and "ix_group_memberships_left_at" in plan, plan
    assert "ix_group_memberships_group_left" not in plan, plan
