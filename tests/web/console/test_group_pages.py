"""Group pages: list with members now, a group's members with their customers, joins and leaves per day."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from factories import make_group_membership
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.identity import Identity
from siyu.kit.time import utcnow


def _group(db_engine: Engine, brand) -> int:
    """Put zhang (now, recently joined) and li (joined and left yesterday) in group chatA."""
    now = utcnow()
    with unit_of_work(db_engine) as s:
        ids = {cid: s.scalars(select(Identity.id).where(Identity.customer_id == cid).order_by(Identity.id)).first()
               for cid in (brand.zhang, brand.li)}
        group = make_group_membership(s, s.get(Identity, ids[brand.zhang]), "chatA")
        s.get(GroupMembership, s.scalars(select(GroupMembership.id)).one()).joined_at = now - timedelta(hours=1)
        s.add(GroupMembership(group_id=group.id, identity_id=ids[brand.li], joined_at=now - timedelta(days=1),
                              left_at=now - timedelta(days=1) + timedelta(minutes=5)))
        return group.id


def test_list_shows_groups_and_members_now(console, brand, db_engine: Engine) -> None:
    group_id = _group(db_engine, brand)
    res = console("ana").get("/groups")
    assert res.status_code == 200
    row = re.search(rf'data-group-id="{group_id}".*?</tr>', res.text, re.DOTALL).group(0)
    assert "群 chatA" in row and 'href="/customers?group=chatA">1<' in row


def test_group_page_lists_members_and_daily_flow(console, brand, db_engine: Engine) -> None:
    group_id = _group(db_engine, brand)
    client = console("ops")
    now = client.get(f"/groups/{group_id}").text
    assert re.findall(r'<tr data-customer-id="(\d+)">', now) == [str(brand.zhang)]
    every = client.get(f"/groups/{group_id}", params={"left": "true"}).text
    assert re.findall(r'<tr data-customer-id="(\d+)">', every) == [str(brand.zhang), str(brand.li)]
    chart = json.loads(re.search(r'<script type="application/json" id="group-flow-\d+">(.*?)</script>', now,
                                 re.DOTALL).group(1))
    joined, left = (s["data"] for s in chart["series"])
    assert len(chart["days"]) == 30 and sum(joined) == 2 and sum(left) == 1
    assert [s["name"] for s in chart["series"]] == ["入群", "退群"]


def test_groups_need_a_role_that_may_see_them(console, brand, db_engine: Engine) -> None:
    _group(db_engine, brand)
    assert console("alice_u").get("/groups").status_code == 403
    assert console("ops").get("/groups/999999").status_code == 404
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalars(select(CustomerGroup.chat_id)).all() == ["chatA"]
