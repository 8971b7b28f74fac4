"""POST /api/v1/orders: an order's states are facts kept as its history, each stored once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.orders.models import Order, OrderFact, OrderFactItem, OrderItem

PHONE = {"phone": "13812345678"}


def order(state: str, at: str, **over):
    base = {"order_id": "SO-1", "status": state, "occurred_at": at, "amount": "299.00", "identities": PHONE,
            "channel": "mini_program",
            "items": [{"sku": "TEA-01", "name": "龙井 250g", "category": "tea", "quantity": 2, "unit_price": "99.50"},
                      {"sku": "CUP-02", "name": "茶杯", "category": "ware", "quantity": 1, "unit_price": "100.00"}]}
    base.update(over)
    return base


def _order(engine):
    with unit_of_work(engine) as s:
        o = s.scalars(select(Order)).one()
        facts = [(f.status, f.fact_key, f.amount_fen) for f in s.scalars(select(OrderFact).order_by(OrderFact.occurred_at))]
        items = [(i.sku, i.quantity, i.unit_price_fen, i.amount_fen) for i in s.scalars(select(OrderItem).order_by(OrderItem.id))]
        return o, facts, items


def test_order_history_and_summary(client, db_engine):
    batch = [order("paid", "2026-11-01T10:00:00+08:00"),
             order("delivered", "2026-11-03T10:00:00+08:00", items=[]),
             order("refunded", "2026-11-05T10:00:00+08:00", refund_amount="100.00", refund_id="R1", items=[])]
    res = client.post("/api/v1/orders", json={"orders": batch})
    assert res.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    o, facts, items = _order(db_engine)
    assert (o.amount_fen, o.refunded_fen, o.status) == (29900, 10000, "partially_refunded")
    assert facts == [("paid", "", 29900), ("delivered", "", 29900), ("refunded", "R1", 10000)]
    assert items == [("TEA-01", 2, 9950, 19900), ("CUP-02", 1, 10000, 10000)]


def test_later_states_arrive_in_later_batches_without_identities(client, db_engine):
    client.post("/api/v1/orders", json={"orders": [order("paid", "2026-11-01T10:00:00+08:00")]})
    res = client.post("/api/v1/orders", json={"orders": [
        {"order_id": "SO-1", "status": "refunded", "occurred_at": "2026-11-06T10:00:00+08:00", "amount": "299.00",
         "refund_amount": "199.00", "refund_id": "R1"},
        {"order_id": "SO-1", "status": "refunded", "occurred_at": "2026-11-07T10:00:00+08:00", "amount": "299.00",
         "refund_amount": "100.00", "refund_id": "R2"}]})
    assert res.json()["accepted"] == 2
    o, facts, _items = _order(db_engine)
    assert (o.refunded_fen, o.status) == (29900, "refunded")
    assert o.paid_at is not None and Decimal(o.amount_fen) / 100 == Decimal("299")


def test_replayed_states_are_duplicates(client, db_engine):
    batch = {"orders": [order("paid", "2026-11-01T10:00:00+08:00"), order("delivered", "2026-11-02T10:00:00+08:00")]}
    client.post("/api/v1/orders", json=batch)
    assert client.post("/api/v1/orders", json=batch).json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    _o, facts, items = _order(db_engine)
    assert len(facts) == 2 and len(items) == 2


def test_refunds_beyond_the_amount_are_rejected(client, db_engine):
    client.post("/api/v1/orders", json={"orders": [order("paid", "2026-11-01T10:00:00+08:00")]})
    res = client.post("/api/v1/orders", json={"orders": [
        order("refunded", "2026-11-02T10:00:00+08:00", refund_amount="200.00", refund_id="A", items=[]),
        order("refunded", "2026-11-03T10:00:00+08:00", refund_amount="200.00", refund_id="B", items=[])]})
    body = res.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "refund_exceeds_amount")]


@pytest.mark.parametrize(("change", "code"), [
    ({"amount": "19.999"}, "invalid_amount"),
    ({"amount": "-1"}, "invalid_value"),
    ({"status": "teleported"}, "invalid_value"),
    ({"currency": "rmb"}, "invalid_value"),
    ({"identities": {}}, "missing_identities"),
    ({"refund_amount": "1.00"}, "invalid_value"),
    ({"occurred_at": 1763600000000, "amount": 12.5}, None),
])
def test_order_item_validation(client, change, code):
    res = client.post("/api/v1/orders", json={"orders": [order("paid", "2026-11-01T10:00:00+08:00", **change)]})
    body = res.json()
    if code is None:
        assert body["accepted"] == 1, body
    else:
        assert [r["code"] for r in body["rejected"]] == [code], body


LINE = [{"sku": "GIFT-09", "quantity": 1, "unit_price": "299.00"}]


@pytest.mark.parametrize("split", ["one-per-batch", "refund-later", "one-batch"])
def test_lines_come_from_the_first_fact_that_carries_any(client, db_engine, keys, split):
    created = order("created", "2026-11-01T09:00:00+08:00", items=[])
    paid = order("paid", "2026-11-01T10:00:00+08:00", items=LINE)
    refunded = order("refunded", "2026-11-02T10:00:00+08:00", refund_id="R1", refund_amount="10.00",
                     items=[{"sku": "OTHER", "name": "赠品", "quantity": 5, "unit_price": "1.00", "amount": "10.00"}])
    batches = {"one-per-batch": [[created], [paid], [refunded]], "refund-later": [[created, paid], [refunded]],
               "one-batch": [[created, paid, refunded]]}[split]
    for batch in batches:
        assert client.post("/api/v1/orders", json={"orders": batch}).json()["accepted"] == len(batch)
    o, facts, items = _order(db_engine)
    assert [f[0] for f in facts] == ["created", "paid", "refunded"]
    assert items == [("GIFT-09", 1, 29900, 29900)]  # the refund's items do not add lines to the order
    with unit_of_work(db_engine) as s:
        named = [(i.sku, i.quantity, i.amount_fen) for i in s.scalars(select(OrderFactItem))]
        customer_id = s.scalar(select(Identity.customer_id).where(Identity.id == o.identity_id))
    assert named == [("OTHER", 5, 1000)]  # … they are kept with the refund, as sent
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    detail = client.get(f"/api/v1/customers/{customer_id}/orders/SO-1", headers=admin)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert (body["status"], body["amount"], body["refunded"]) == ("partially_refunded", "299.00", "10.00")
    assert [(line["sku"], line["amount"]) for line in body["lines"]] == [("GIFT-09", "299.00")]
    assert [(h["status"], h["refund_id"], h["amount"], [x["sku"] for x in h["lines"]]) for h in body["history"]] == [
        ("created", None, "299.00", []), ("paid", None, "299.00", []), ("refunded", "R1", "10.00", ["OTHER"])]
    replay = client.post("/api/v1/orders", json={"orders": [refunded]}).json()
    assert replay["duplicates"] == 1
    with unit_of_work(db_engine) as s:
        assert len(s.scalars(select(OrderFactItem)).all()) == 1  # a replayed refund adds no lines


def test_an_order_of_somebody_else_or_unknown_is_404(client, db_engine, keys):
    client.post("/api/v1/orders", json={"orders": [order("paid", "2026-11-01T10:00:00+08:00"),
                                                    order("paid", "2026-11-01T10:00:00+08:00", order_id="SO-2",
                                                          identities={"phone": "13900001111"})]})
    with unit_of_work(db_engine) as s:
        first = s.scalar(select(Identity.customer_id).where(Identity.kind == "phone").order_by(Identity.id))
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    assert client.get(f"/api/v1/customers/{first}/orders/SO-1", headers=admin).status_code == 200
    for order_id in ("SO-2", "NOPE"):
        answer = client.get(f"/api/v1/customers/{first}/orders/{order_id}", headers=admin)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "order_not_found"
    assert client.get(f"/api/v1/customers/{first}/orders/SO-1").status_code == 403  # the ingest key may not read
