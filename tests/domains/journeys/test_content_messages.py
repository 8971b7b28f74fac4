"""What a journey's message says: its own text, a content item rendered per customer, or smart push from a collection."""

from __future__ import annotations

from datetime import datetime

import pytest
from factories import make_customer
from sqlalchemy import Engine, func, select

from siyu.db.engine import unit_of_work
from siyu.domains.content.models import ContentSend
from siyu.domains.content.schemas import ItemIn
from siyu.domains.content.service import create_collection, create_item
from siyu.domains.journeys import service
from siyu.domains.journeys.definition import InvalidJourney
from siyu.domains.outbox.models import OutboxMessage
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

from .helpers import context, run, start

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _journey(content: dict, channel: str = "wecom") -> dict:
    return {"trigger": {"type": "manual"}, "holdout_percent": 0, "steps": [
        {"id": "say", "type": "send_message", "channel": channel, "content": content, "category": "transactional"}]}


def test_text_is_copied_up_and_an_item_is_rendered_for_each_customer(db_engine: Engine, settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        zhang = make_customer(s, vault, name="张三").id
        anon = make_customer(s, vault).id
        item = create_item(s, ItemIn(kind="text", title="上新", body='{{ name | default("亲") }}，上新了 {{ link }}',
                                     url="https://shop.example.com/new"), actor="test").id
    ctx = context(settings)
    start(db_engine, "文本", _journey({"text": "您好", "subject": "问候"}, channel="email"), T0, [zhang])
    run(db_engine, ctx, T0)
    said = {r.customer_id: r for r in _messages_all(db_engine)}[zhang]
    assert (said.payload["text"], said.subject) == ("您好", "问候")
    start(db_engine, "条目", _journey({"content_id": item}), T0, [zhang, anon])
    run(db_engine, ctx, T0)
    rows = [r for r in _messages_all(db_engine) if r.payload.get("content_id") == item]
    texts = {r.customer_id: r.payload["text"] for r in rows}
    assert texts[zhang].startswith("张三，上新了 ") and texts[anon].startswith("亲，上新了 ")
    assert all("/l/" in t for t in texts.values()) and {r.content_id for r in rows} == {item}  # a tracked link each
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(ContentSend).where(ContentSend.content_id == item)) == 2


def _messages_all(engine: Engine) -> list[OutboxMessage]:
    with unit_of_work(engine, write=False) as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        s.expunge_all()
    return rows


def test_a_collection_gives_each_customer_an_item_of_it(db_engine: Engine, settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        people = [make_customer(s, vault, name=f"客户{i}").id for i in range(6)]
        items = [create_item(s, ItemIn(kind="text", title=f"第{i}篇", body=f"第{i}篇 {{{{ name }}}}", topics=[f"t{i}"]),
                             actor="test").id for i in range(3)]
        outside = create_item(s, ItemIn(kind="text", title="不在集合里", body="x"), actor="test").id
        create_collection(s, "每周推荐", "", items, actor="test")
    start(db_engine, "推荐", _journey({"collection": "每周推荐"}), T0, people)
    run(db_engine, context(settings), T0)
    rows = {r.customer_id: r for r in _messages_all(db_engine)}
    assert set(rows) == set(people)
    assert {r.content_id for r in rows.values()} <= set(items) and outside not in {r.content_id for r in rows.values()}
    for customer, row in rows.items():
        assert row.payload["text"].endswith(f"客户{people.index(customer)}")  # rendered for that customer


def test_content_that_names_nothing_or_has_the_wrong_shape_is_refused(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        with pytest.raises(InvalidJourney) as missing:
            service.create_journey(s, name="缺", definition=_journey({"content_id": 999}), actor="test")
        assert [(e["path"], e["code"]) for e in missing.value.details["errors"]] == [
            ("$.steps[0].content", "unknown_content")]
        with pytest.raises(InvalidJourney) as unknown:
            service.create_journey(s, name="缺集合", definition=_journey({"collection": "没有"}), actor="test")
        assert unknown.value.details["errors"][0]["code"] == "unknown_content"
        for wrong in ({"text": ""}, {"text": "a", "content_id": 1}, {"content_id": "1"}, {"subject": "只有标题"}):
            with pytest.raises(InvalidJourney) as shape:
                service.create_journey(s, name="形状", definition=_journey(wrong), actor="test")
            assert shape.value.details["errors"][0]["path"] == "$.steps[0].content", wrong
