"""Content and mass-message pages: add with a template error beside the body, preview, variants, metrics;
compose, preview counts, send once; analysts read only."""

from __future__ import annotations

import re

from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.content.models import ContentItem
from siyu.domains.outbox import OutboxMessage
from siyu.domains.segments import service as segments
from siyu.domains.tasks.models import StaffTask
from siyu.kit.time import utcnow

ITEM = {"kind": "article", "title": "春季护肤", "body": "<p>{{ name | default('亲') }}，看看 {{ link }}</p>",
        "url": "https://brand.example/s", "topics": "护肤, 春季", "stages": "interest"}


def test_library_add_preview_variant_and_metrics(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    assert ops.page("/content").status_code == 200
    bad = ops.submit("/content", {**ITEM, "body": "第一行\n{{ name | }}"})
    assert bad.status_code == 422 and re.search(r'data-field="body">[^<]*line 2', bad.text)
    assert "第一行" in bad.text  # the form keeps what was typed
    made = ops.submit("/content", ITEM, follow_redirects=False)
    assert made.status_code == 303, made.text
    with unit_of_work(db_engine, write=False) as s:
        item = s.scalars(select(ContentItem)).one()
        assert (item.topics, item.stages, item.kind) == (["护肤", "春季"], ["interest"], "article")
    page = ops.page(f"/content/{item.id}")
    assert 'data-testid="content-metrics"' in page.text and 'data-key="total"' in page.text
    rendered = ops.submit(f"/content/{item.id}/preview", {"customer_id": str(brand.zhang), "variant": ""})
    text = re.search(r'data-testid="content-rendered">(.*?)</pre>', rendered.text, re.S).group(1)
    assert text.startswith("&lt;p&gt;张*，看看 http")  # the HTML body, shown as text; masked without PII rights
    ops.page(f"/content/{item.id}")
    assert ops.submit(f"/content/{item.id}/variants", {"name": "B", "variant_body": "B {{ name }}", "weight": "2"},
                      follow_redirects=False).status_code == 303
    ops.page(f"/content/{item.id}")
    again = ops.submit(f"/content/{item.id}/variants", {"name": "B", "variant_body": "x", "weight": "1"})
    assert again.status_code == 422 and 'data-field="variant"' in again.text
    ops.page(f"/content/{item.id}")
    edited = ops.submit(f"/content/{item.id}", {**ITEM, "title": "春季护肤指南", "status": "archived"},
                        follow_redirects=False)
    assert edited.status_code == 303
    ana = console("ana")
    listing = ana.page("/content?status=archived")
    assert "春季护肤指南" in listing.text and 'data-testid="content-form"' not in listing.text
    assert ana.submit("/content", ITEM).status_code == 403


def test_mass_compose_preview_send_once(console, brand, db_engine: Engine, settings) -> None:
    with unit_of_work(db_engine) as s:
        s.add(ContentItem(kind="text", title="上新", body="{{ name | default('亲') }} 上新", created_by="t",
                          created_at=utcnow(), updated_at=utcnow()))
        segments.create_segment(s, name="杭州", rule={"attribute": "city", "op": "eq", "value": "杭州"}, actor="t",
                                tz=settings.tz)
        item_id = s.scalar(select(ContentItem.id))
    ops = console("ops")
    ops.page("/mass")
    bad = ops.submit("/mass", {"name": "x", "audience_kind": "segment", "audience": "没有", "channel": "wecom",
                               "content_id": str(item_id)})
    assert bad.status_code == 422 and 'data-field="audience"' in bad.text
    made = ops.submit("/mass", {"name": "杭州上新", "audience_kind": "segment", "audience": "杭州", "channel": "wecom",
                                "content_id": str(item_id), "send_at": ""}, follow_redirects=False)
    assert made.status_code == 303
    url = made.headers["location"]
    page = ops.page(url)
    assert re.search(r'data-figure="eligible">1<', page.text)  # 张三 in 杭州, followed by alice
    assert ops.submit(f"{url}/send", {}, follow_redirects=False).status_code == 303
    sent = ops.page(url)
    assert 'data-status="sent"' in sent.text and re.search(r'data-figure="recipients">1<', sent.text)
    ops.submit(f"{url}/send", {})  # the buttons are gone; a replayed post is refused and changes nothing
    with unit_of_work(db_engine, write=False) as s:
        assert [m.customer_id for m in s.scalars(select(OutboxMessage))] == [brand.zhang]
        assert [t.staff_id for t in s.scalars(select(StaffTask))] == [brand.alice]
    assert console("ana").submit(f"{url}/cancel", {}).status_code == 403


def test_sidebar_suggests_content_with_its_reasons(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        s.add(ContentItem(kind="text", title="新客礼包", body="", topics=["礼包"], created_by="t", created_at=utcnow(),
                          updated_at=utcnow()))
    res = console("alice_u").get("/sidebar/customer", params={"external_userid": "wmZhang001"})
    assert res.status_code == 200
    card = re.search(r'data-testid="suggestions">(.*?)</section>', res.text, re.S).group(1)
    assert "新客礼包" in card and "阶段契合 0.5" in card
