"""Segment and tag pages: list with size and freshness, editor with live preview and field errors, members, tags."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.segments import service
from siyu.domains.segments.models import Segment
from siyu.domains.tags.models import CustomerTag, Tag
from siyu.kit.time import utcnow

TZ = ZoneInfo("Asia/Shanghai")
HANGZHOU = '{"attribute": "city", "op": "eq", "value": "杭州"}'
PHONE = '{"identity": "phone"}'


def test_create_through_the_editor_then_list_and_members(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    form = ops.page("/segments/new")
    assert form.status_code == 200 and 'hx-post="/segments/preview"' in form.text
    made = ops.submit("/segments/new", {"name": "有手机号", "description": "d", "rule": PHONE}, follow_redirects=False)
    assert made.status_code == 303
    with unit_of_work(db_engine, write=False) as s:
        segment = s.scalar(select(Segment).where(Segment.name == "有手机号"))
    assert segment is not None and segment.members == 2  # 张三 and 李四
    listing = ops.page("/segments").text
    row = re.search(rf'data-segment-id="{segment.id}".*?</tr>', listing, re.DOTALL).group(0)
    assert 'data-testid="segment-size">2<' in row and "0 分钟前" in row
    detail = ops.page(f"/segments/{segment.id}").text
    members = set(re.findall(r'data-customer-id="(\d+)"', detail))
    assert members == {str(brand.zhang), str(brand.li)}
    ops.cookies.set("siyu_lang", "en")
    english = ops.page(f"/segments/{segment.id}").text
    assert "Current members" in english and "当前成员" not in english


def test_preview_fragment_counts_or_lists_problems_by_path(console, brand) -> None:
    ops = console("ops")
    ops.page("/segments/new")
    ok = ops.submit("/segments/preview", {"rule": HANGZHOU}, headers={"HX-Request": "true"})
    assert ok.status_code == 200 and 'data-testid="preview-count">1<' in ok.text
    bad = ops.submit("/segments/preview", {"rule": '{"any": [{"event": "content_viewed", "window": {"last_days": 0}}]}'})
    assert 'data-path="$.any[0].window.last_days"' in bad.text
    broken = ops.submit("/segments/preview", {"rule": "{oops"})
    assert 'data-path="$"' in broken.text


def test_save_errors_sit_beside_their_fields(console, brand) -> None:
    ops = console("ops")
    ops.page("/segments/new")
    bad_rule = ops.submit("/segments/new", {"name": "x", "rule": '{"tag": "不存在"}'})
    assert bad_rule.status_code == 422
    assert 'data-field="rule" data-path="$.tag"' in bad_rule.text and "不存在" in bad_rule.text
    assert ops.submit("/segments/new", {"name": "dup", "rule": PHONE}, follow_redirects=False).status_code == 303
    ops.page("/segments/new")
    dup = ops.submit("/segments/new", {"name": "dup", "rule": PHONE})
    assert dup.status_code == 422 and 'data-field="name"' in dup.text


def test_staff_see_only_their_members_and_cannot_edit(console, brand, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        segment = service.create_segment(s, name="手机", rule={"identity": "phone"}, actor="t", tz=TZ)
    alice = console("alice_u")
    detail = alice.page(f"/segments/{segment.id}").text
    assert set(re.findall(r'data-customer-id="(\d+)"', detail)) == {str(brand.zhang)}  # li is bob's
    assert alice.get("/segments/new").status_code == 403
    assert alice.get("/tags").status_code == 403


def test_tags_page_groups_rule_tags_and_tagging_a_segment(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    ops.page("/tags")
    assert ops.submit("/tags/groups", {"name": "等级", "exclusive": "1"}, follow_redirects=False).status_code == 303
    assert ops.submit("/tags/new", {"name": "金卡", "group": "等级"}, follow_redirects=False).status_code == 303
    rule = ops.submit("/tags/rules", {"name": "杭州人", "group": "地区", "rule": HANGZHOU}, follow_redirects=False)
    assert rule.status_code == 303
    bad = ops.submit("/tags/rules", {"name": "坏", "group": "地区", "rule": '{"attribute": "city"}'})
    assert bad.status_code == 422 and 'data-path="$.op"' in bad.text
    dup = ops.submit("/tags/new", {"name": "金卡", "group": "等级"})
    assert dup.status_code == 422 and 'data-field="tag.name"' in dup.text
    with unit_of_work(db_engine) as s:
        segment = service.create_segment(s, name="手机", rule={"identity": "phone"}, actor="t", tz=TZ)
    applied = ops.submit("/tags/apply", {"tag": "金卡", "segment": str(segment.id)}, follow_redirects=False)
    assert applied.status_code == 303
    page = ops.page("/tags").text
    assert re.search(r'data-tag="杭州人".*?data-testid="tag-holders">1<', page, re.DOTALL)
    assert re.search(r'data-tag="金卡".*?data-testid="tag-holders">2<', page, re.DOTALL)
    assert "互斥" in page
    with unit_of_work(db_engine, write=False) as s:
        sources = set(s.scalars(select(CustomerTag.source).join(Tag, Tag.id == CustomerTag.tag_id)
                                .where(Tag.name == "金卡")))
    assert sources == {f"segment:{segment.id}"} and utcnow()
