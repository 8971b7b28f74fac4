"""Tags and follow-up notes from the 360 page and the staff sidebar; every change is audited."""

from __future__ import annotations

from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.customers.models import FollowUpNote

HX = {"HX-Request": "true"}


def _audit(db_engine: Engine, action: str) -> list[tuple[str, str | None, dict]]:
    with unit_of_work(db_engine, write=False) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(e.actor, e.target_id, e.detail) for e in rows]


def test_add_and_remove_a_tag_with_htmx(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    added = client.submit(f"/customers/{brand.zhang}/tags", {"tag": " 复购客 "}, headers=HX)
    assert added.status_code == 200 and "复购客" in added.text and "<html" not in added.text
    removed = client.submit(f"/customers/{brand.zhang}/tags/remove", {"tag": "VIP"}, headers=HX)
    assert "VIP" not in removed.text and "复购客" in removed.text
    assert _audit(db_engine, "customer.tag.add") == [("user:ops", str(brand.zhang), {"tag": "复购客"})]
    assert _audit(db_engine, "customer.tag.remove") == [("user:ops", str(brand.zhang), {"tag": "VIP"})]


def test_tag_errors_show_beside_the_field(console, brand) -> None:
    client = console("ops")
    htmx = client.submit(f"/customers/{brand.zhang}/tags", {"tag": "x" * 65}, headers=HX)
    plain = client.submit(f"/customers/{brand.zhang}/tags", {"tag": "   "})
    assert (htmx.status_code, plain.status_code) == (422, 422)
    assert 'data-field="tag">标签名需为 1–64 个字符' in htmx.text
    assert 'data-field="tag">' in plain.text and "<html" in plain.text  # without JS: the whole page again


def test_plain_form_post_redirects_back(console, brand) -> None:
    client = console("ops")
    res = client.submit(f"/customers/{brand.zhang}/tags", {"tag": "新客"}, follow_redirects=False)
    assert (res.status_code, res.headers["location"]) == (303, f"/customers/{brand.zhang}")


def test_add_a_follow_up_note(console, brand, db_engine: Engine) -> None:
    client = console("alice_u")
    res = client.submit(f"/customers/{brand.zhang}/notes", {"method": "call", "body": "回访：想要新品 <i>试饮</i>"},
                        headers=HX)
    assert res.status_code == 200
    assert "回访：想要新品 &lt;i&gt;试饮&lt;/i&gt;" in res.text and "电话" in res.text and "alice_u" in res.text
    with unit_of_work(db_engine, write=False) as s:
        note = s.scalars(select(FollowUpNote)).one()
    assert (note.customer_id, note.method, note.author, note.staff_id) == (brand.zhang, "call", "user:alice_u",
                                                                           brand.alice)
    assert _audit(db_engine, "customer.note.add") == [("user:alice_u", str(brand.zhang),
                                                       {"note_id": note.id, "method": "call"})]


def test_note_errors_keep_what_was_typed(console, brand) -> None:
    client = console("ops")
    empty = client.submit(f"/customers/{brand.zhang}/notes", {"method": "chat", "body": "  "}, headers=HX)
    method = client.submit(f"/customers/{brand.zhang}/notes", {"method": "fax", "body": "保留这段文字"}, headers=HX)
    assert (empty.status_code, method.status_code) == (422, 422)
    assert 'data-field="body">跟进内容需为 1–2000 个字符' in empty.text
    assert 'data-field="method">请选择跟进方式' in method.text and "保留这段文字" in method.text


def test_analysts_cannot_change_customers(console, brand) -> None:
    client = console("ana")
    page = client.get(f"/customers/{brand.zhang}")
    assert page.status_code == 200 and f'action="/customers/{brand.zhang}/tags"' not in page.text
    client.page(f"/customers/{brand.zhang}")
    assert client.submit(f"/customers/{brand.zhang}/notes", {"body": "x"}).status_code == 403


def test_staff_cannot_act_on_another_staff_members_customer(console, brand) -> None:
    client = console("alice_u")
    assert client.submit(f"/customers/{brand.li}/tags", {"tag": "x"}, headers=HX).status_code == 404
    assert client.submit(f"/customers/{brand.li}/notes", {"body": "x"}, headers=HX).status_code == 404


def test_sidebar_shows_the_owning_staff_members_customer(console, brand) -> None:
    res = console("alice_u").get("/sidebar/customer", params={"external_userid": "wmZhang001"})
    assert res.status_code == 200
    for text in ('data-testid="portrait"', "VIP", "¥199.00", f'/customers/{brand.zhang}/notes', "张*"):
        assert text in res.text, text
    assert 'class="mainnav"' not in res.text  # the phone-width page has no console navigation


def test_sidebar_hides_customers_of_other_staff(console, brand) -> None:
    alice = console("alice_u")
    other = alice.get("/sidebar/customer", params={"external_userid": "wmLiSi0001"})
    unknown = alice.get("/sidebar/customer", params={"external_userid": "wmNobody01"})
    assert (other.status_code, unknown.status_code) == (404, 404)
    assert other.text.count("找不到这个客户") == 1 and 'data-testid="error-page"' in other.text
    assert console("bob_u").get("/sidebar/customer", params={"external_userid": "wmLiSi0001"}).status_code == 200


def test_sidebar_is_for_staff_accounts(console) -> None:
    assert console("admin").get("/sidebar/customer", params={"external_userid": "wmZhang001"}).status_code == 403
