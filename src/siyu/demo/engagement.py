"""The demo brand's engagement set-up: the content library, segments, journeys and customer service.

The simulated history (runner) gives the brand its customers and facts; this gives the operators
something to run on them, built through the same services the console and the API use, so every
row is validated and audited as ``demo``: the brand's articles as content items (with a weekly
collection), four segments, five journeys from the ready templates (three published, so
``siyu serve`` on the demo starts running them from now on; two left as drafts to try the editor),
and auto-reply rules and FAQ entries for the service inbox. Deterministic: nothing here is random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.demo import catalog
from siyu.domains.content.schemas import ItemIn
from siyu.domains.content.service import create_collection, create_item
from siyu.domains.journeys import service as journeys
from siyu.domains.journeys.templates import TEMPLATES, template
from siyu.domains.segments import service as segments
from siyu.domains.service import service as answers

ACTOR = "demo"
SITE = "https://shancha.example.com/articles/"
# topic → the AIPL stages an article of that topic serves
STAGES: dict[str, list[str]] = {"新品": ["awareness", "interest"], "茶知识": ["awareness"], "门店": ["interest"],
                                "会员": ["loyalty"], "健康": ["interest"], "周边": ["interest", "loyalty"],
                                "礼盒": ["purchase"], "咖啡": ["awareness"], "拼单": ["purchase"]}
SEGMENTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("常客（下单 5 次以上）", "两年内下单至少 5 次", {"order": "count", "op": "gte", "value": 5}),
    ("60 天未下单的老客", "下过至少两单、最近一单在 60 天前：沉睡唤回的对象",
     {"all": [{"order": "count", "op": "gte", "value": 2}, {"order": "last_at", "op": "more_than_days_ago", "value": 60}]}),
    ("7 天内生日", "生日在接下来 7 天内", {"attribute": "birthday", "op": "anniversary_within_days", "value": 7}),
    ("上海客户", "所在城市为上海", {"attribute": "city", "op": "eq", "value": "上海"}),
)
JOURNEYS: tuple[tuple[str, str, bool], ...] = (  # (name, template, published)
    ("新客首单", "new_customer_first_order", True),
    ("社群 7 天新人引导", "group_onboarding_7d", True),
    ("生日礼", "birthday", True),
    ("沉睡唤回", "win_back_60d", False),
    ("售后关怀", "after_sale_care", False),
)
RULES: tuple[tuple[str, str, list[str], str], ...] = (
    ("营业时间", "contains", ["营业时间", "几点开门", "几点关门"], "门店营业时间 10:00-22:00，小程序商城 24 小时可以下单。"),
    ("门店地址", "contains", ["地址", "在哪里", "怎么走"], "离您最近的门店可以在小程序「门店」页查看并一键导航。"),
    ("退款进度", "fuzzy", ["退款什么时候到账"], "退款会在 1-3 个工作日原路退回；超过 3 天未到账，请回复「人工」。"),
)
FAQS: tuple[tuple[str, str, list[str], list[str]], ...] = (
    ("会员积分怎么用？", "每消费 1 元积 1 分，100 分可抵 1 元，在小程序「会员」页使用。", ["积分能抵现吗", "积分有什么用"],
     ["积分"]),
    ("可以开发票吗？", "可以。下单后在小程序「订单」页申请电子发票，1 个工作日内发到您的邮箱。", ["怎么开票", "发票怎么开"],
     ["发票"]),
    ("外卖多久送到？", "同城外卖一般 30-45 分钟送达，高峰期可能稍有延迟。", ["配送要多久", "多久能到"], ["外卖", "配送"]),
    ("礼盒可以定制吗？", "中秋、春节礼盒满 20 盒可以定制贺卡和包装，请联系您的专属顾问。", ["礼盒定制", "企业团购"],
     ["礼盒", "定制"]),
)


@dataclass
class EngagementReport:
    """What the set-up created."""

    content_items: int = 0
    segments: int = 0
    journeys: int = 0
    published: int = 0
    rules: int = 0
    faqs: int = 0


def set_up(engine: Engine, settings: Settings) -> EngagementReport:
    """Create the demo brand's content, segments, journeys and service answers (one transaction)."""
    report = EngagementReport()
    with unit_of_work(engine) as s:
        ids = [create_item(s, _article(cid, title, topic), actor=ACTOR).id for cid, title, topic in catalog.CONTENT]
        ids.append(create_item(s, ItemIn(kind="mini_program", title="山茶集会员中心", body="{{ name | default(\"亲\") }}，点开看看您的积分和券",
                                         meta={"appid": "wxminishancha", "page": "pages/member/index"},
                                         topics=["会员"], stages=["loyalty"]), actor=ACTOR).id)
        create_collection(s, "每周推荐", "每周推送给客户的文章，由智能推荐按兴趣挑选", ids, actor=ACTOR)
        report.content_items = len(ids)
        for name, description, rule in SEGMENTS:
            segments.create_segment(s, name=name, rule=rule, description=description, actor=ACTOR, tz=settings.tz)
        report.segments = len(SEGMENTS)
        for name, key, published in JOURNEYS:
            journey = journeys.create_journey(s, name=name, definition=template(key),
                                              description=str(TEMPLATES[key]["description"]), actor=ACTOR)
            if published:
                journeys.publish(s, journey.id, actor=ACTOR)
                report.published += 1
        report.journeys = len(JOURNEYS)
        for name, match, patterns, reply in RULES:
            answers.create_rule(s, name=name, match_type=match, patterns=patterns, reply=reply, actor=ACTOR)
        report.rules = len(RULES)
        for question, answer, alternatives, keywords in FAQS:
            answers.create_faq(s, question=question, answer=answer, alternatives=alternatives, keywords=keywords,
                               actor=ACTOR)
        report.faqs = len(FAQS)
    return report


def _article(cid: str, title: str, topic: str) -> ItemIn:
    return ItemIn(kind="article", title=title, url=f"{SITE}{cid}", topics=[topic], stages=STAGES.get(topic, ["interest"]),
                  body=f"{{{{ name | default(\"亲\") }}}}，{title}：点开链接看全文 → {{{{ link }}}}",
                  meta={"content_id": cid})
