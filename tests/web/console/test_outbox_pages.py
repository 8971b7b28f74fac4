"""The outbox pages: counts and reasons, recent messages filtered, the do-not-contact list with add and remove."""

from __future__ import annotations

from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.outbox import service as outbox


def test_outbox_page_shows_statuses_and_reasons(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        outbox.add_opt_out(s, customer_id=brand.li, source="test")
        enqueue(s, [NewMessage("a", "promo", "wecom", {}, customer_id=brand.zhang, category="marketing",
                               source="mass:1"),
                    NewMessage("b", "promo", "wecom", {}, customer_id=brand.li, category="marketing")])
    with unit_of_work(db_engine) as s:
        s.execute(outbox.repo.T.update().where(outbox.repo.T.c.idempotency_key == "b")
                  .values(status="suppressed", reason="do_not_contact"))
    res = console("ana").get("/outbox")
    assert res.status_code == 200
    assert "已拦截" in res.text and "免打扰名单" in res.text and 'data-status="pending"' in res.text
    filtered = console("ana").get("/outbox", params={"status": "suppressed"})
    assert 'data-message-id="' in filtered.text and "mass:1" not in filtered.text
    assert console("alice_u").get("/outbox").status_code == 403


def test_dnc_add_and_remove(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    assert ops.page("/outbox/do-not-contact").status_code == 200
    res = ops.submit("/outbox/do-not-contact", {"customer_id": str(brand.zhang), "channel": "sms",
                                                "scope": "marketing", "note": "投诉"}, follow_redirects=False)
    assert res.status_code == 303
    page = ops.page("/outbox/do-not-contact?done=added")
    assert "已加入名单" in page.text and "投诉" in page.text and "仅营销" in page.text
    bad = ops.submit("/outbox/do-not-contact", {"customer_id": "x"})
    assert bad.status_code == 422 and "请填写客户编号" in bad.text
    with unit_of_work(db_engine, write=False) as s:
        entry = outbox.list_opt_outs(s)[0]
    assert ops.submit(f"/outbox/do-not-contact/{entry.id}/remove", follow_redirects=False).status_code == 303
    with unit_of_work(db_engine, write=False) as s:
        assert outbox.list_opt_outs(s) == []
    ana = console("ana")
    page = ana.page("/outbox/do-not-contact")
    assert page.status_code == 200 and 'data-testid="dnc-add"' not in page.text
    assert ana.submit("/outbox/do-not-contact", {"customer_id": "1"}).status_code == 403
