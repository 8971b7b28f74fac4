"""The audit log page: admins only, filters, keyset paging, and the views it records."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.access import audit

ROW = re.compile(r'data-audit-id="(\d+)"')


def test_admins_see_who_did_what(console, brand) -> None:
    admin = console("admin")
    admin.get(f"/customers/{brand.zhang}")  # an unmasked view: audited as pii.read
    res = admin.get("/audit")
    assert res.status_code == 200
    assert "查看个人信息" in res.text and f'href="/customers/{brand.zhang}"' in res.text and "user:admin" in res.text
    assert 'href="/audit"' in res.text and "系统管理" in res.text


def test_other_roles_get_403_and_no_menu_entry(console) -> None:
    for username in ("ops", "ana", "alice_u"):
        client = console(username)
        assert client.get("/audit").status_code == 403
        assert 'href="/audit"' not in client.get("/customers").text


def test_filters_and_paging(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        for i in range(60):
            audit(s, "user:robot", "customer.update", "customer", brand.li, {"n": i})
    client = console("admin")
    first = client.get("/audit", params={"actor": "user:robot"})
    ids = [int(i) for i in ROW.findall(first.text)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    more = re.search(r'href="(/audit\?[^"]+)"', first.text.replace("&amp;", "&"))
    assert more and "actor=user%3Arobot" in more.group(1)
    rest = [int(i) for i in ROW.findall(client.get(more.group(1)).text)]
    assert len(rest) == 10 and max(rest) < min(ids)
    by_target = client.get("/audit", params={"target_type": "customer", "target_id": str(brand.li),
                                             "action": "customer.update"})
    assert len(ROW.findall(by_target.text)) == 50
    assert ROW.findall(client.get("/audit", params={"action": "nothing.like.this"}).text) == []
