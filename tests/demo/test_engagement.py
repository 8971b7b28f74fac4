"""The demo brand's engagement set-up: content, segments, journeys and service answers, made through the services."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from siyu.db.engine import unit_of_work
from siyu.demo.engagement import FAQS, JOURNEYS, RULES, SEGMENTS, set_up
from siyu.demo.runner import DemoOptions, build
from siyu.domains.content.service import list_items
from siyu.domains.customers import Customer
from siyu.domains.journeys import service as journeys
from siyu.domains.segments.models import Segment, SegmentMembership
from siyu.domains.service import service as answers
from siyu.errors import SiyuError


def test_the_demo_brand_gets_content_segments_journeys_and_answers(db_engine, settings) -> None:
    build(db_engine, settings, DemoOptions(customers=200, seed=5, until=date(2026, 11, 1), mode="bulk", parallel=False))
    report = set_up(db_engine, settings)
    assert (report.segments, report.journeys, report.rules, report.faqs) == (len(SEGMENTS), len(JOURNEYS), len(RULES),
                                                                            len(FAQS))
    with unit_of_work(db_engine) as s:
        items = [view.item for view in list_items(s, limit=100)]
        assert len(items) == report.content_items == 11
        assert all(i.topics and i.stages for i in items) and sum(i.kind == "article" for i in items) == 10
        statuses = {j.name: j.status for j in journeys.list_journeys(s)}
        assert statuses == {name: "active" if published else "draft" for name, _key, published in JOURNEYS}
        shanghai = s.scalar(select(Segment.id).where(Segment.name == "上海客户"))
        members = set(s.scalars(select(SegmentMembership.customer_id).where(
            SegmentMembership.segment_id == shanghai, SegmentMembership.exited_at.is_(None))))
        live = set(s.scalars(select(Customer.id).where(Customer.city == "上海", Customer.merged_into_id.is_(None))))
        assert members == live and members  # evaluated at once, exactly the brand's Shanghai customers
        assert s.scalar(select(func.count()).select_from(SegmentMembership)) > len(members)
        opening = answers.try_text(s, settings.data_dir, "请问你们几点开门")
        points = answers.try_text(s, settings.data_dir, "积分有什么用啊")
        assert (opening.kind, points.kind) == ("rule", "faq") and "10:00" in (opening.reply or "")
    with pytest.raises(SiyuError):  # run twice, it refuses (names are unique) rather than duplicating
        set_up(db_engine, settings)
