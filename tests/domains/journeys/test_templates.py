"""Every template validates against a store; the 7-day group onboarding makes one task a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domains.journeys.helpers import context, enrolments, run, start
from factories import T0, make_customer, make_event, make_identity
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.journeys import service
from siyu.domains.journeys.templates import TEMPLATES, template
from siyu.domains.tags import create_tag
from siyu.domains.tasks.models import StaffTask
from siyu.kit.crypto import PiiVault


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_validates(name: str, db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        create_tag(s, "会员")
        spec = service.validate(s, template(name))
    assert spec.steps and TEMPLATES[name]["description"]


def test_group_onboarding_makes_one_task_a_day(db_engine: Engine, settings: Settings) -> None:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        c = make_customer(s, vault)
        ident = make_identity(s, vault, c.id, "external_userid", "wm1")
    jid = start(db_engine, "onboarding", template("group_onboarding_7d"), T0)
    with unit_of_work(db_engine) as s:
        make_event(s, s.merge(ident), "group_joined", occurred_at=T0, properties={"chat_id": "g1"})
    ctx = context(settings)
    for day in range(8):
        run(db_engine, ctx, T0 + timedelta(days=day, minutes=1))
    with unit_of_work(db_engine, write=False) as s:
        tasks = s.execute(select(StaffTask.title, StaffTask.created_at).order_by(StaffTask.id)).all()
    assert [t for t, _ in tasks] == [
        "欢迎入群：发群公告与新人礼", "发布品牌故事与使用教程", "邀请晒单或打卡", "推送热门内容并答疑",
        "发起小游戏或抽奖", "推荐适合的商品", "回顾一周，邀请加入会员"]
    assert [at.date() for _, at in tasks] == [(T0 + timedelta(days=d)).date() for d in range(7)]
    assert enrolments(db_engine, jid)[c.id].status == "done"
