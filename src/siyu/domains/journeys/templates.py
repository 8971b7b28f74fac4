"""Ready journey templates: the SOPs of DOMAIN.md and one playbook per industry quadrant.

Each is a complete definition an operator copies and adjusts (names of tags, coupons and texts); the
tests parse every one. Templates use only manual, event, date and inactivity triggers, so they need
no segment to exist; a branch's rule is the segment language itself.
"""

from __future__ import annotations

from typing import Any


def _day_task(day: int, title: str, last: bool = False) -> list[dict[str, Any]]:
    task = {"id": f"task_d{day}", "type": "create_task", "title": title, "due_in": {"hours": 8}}
    if last:
        return [task]
    return [{**task, "next": f"wait_d{day}"},
            {"id": f"wait_d{day}", "type": "wait", "duration": {"days": 1}, "next": f"task_d{day + 1}"}]


ONBOARDING_TASKS = ["欢迎入群：发群公告与新人礼", "发布品牌故事与使用教程", "邀请晒单或打卡", "推送热门内容并答疑",
                    "发起小游戏或抽奖", "推荐适合的商品", "回顾一周，邀请加入会员"]

TEMPLATES: dict[str, dict[str, Any]] = {
    "group_onboarding_7d": {
        "description": "社群 7 天新人引导：入群当天起每天一个跟进任务",
        "trigger": {"type": "event", "event": {"type": "group_joined"}},
        "goal": {"event": "order_paid", "within": {"days": 14}, "exit": False},
        "steps": [s for day, title in enumerate(ONBOARDING_TASKS) for s in _day_task(day, title, day == 6)],
    },
    "new_customer_first_order": {
        "description": "新客首单：加好友当天发券，次日教程，三天未下单提醒并派任务",
        "trigger": {"type": "event", "event": {"type": "contact_added"}},
        "holdout_percent": 10,
        "goal": {"event": "order_paid", "within": {"days": 7}},
        "steps": [
            {"id": "coupon", "type": "issue_coupon", "coupon": "NEW_CUSTOMER", "next": "welcome"},
            {"id": "welcome", "type": "send_message", "channel": "wecom", "content": {"text": "新人券已到账"},
             "next": "day1"},
            {"id": "day1", "type": "wait", "duration": {"days": 1}, "next": "tutorial"},
            {"id": "tutorial", "type": "send_message", "channel": "wecom", "content": {"text": "使用教程"},
             "next": "order"},
            {"id": "order", "type": "wait_for_event", "event": "order_paid", "timeout": {"days": 2},
             "next": "buyer", "on_timeout": "remind"},
            {"id": "buyer", "type": "add_tag", "tag": "已首单"},
            {"id": "remind", "type": "send_message", "channel": "wecom", "content": {"text": "新人券即将过期"},
             "next": "call"},
            {"id": "call", "type": "create_task", "title": "新客三天未下单：一对一沟通", "due_in": {"hours": 24}},
        ],
    },
    "after_sale_care": {
        "description": "售后关怀：签收三天后问候，十天后邀请评价，差评转人工",
        "trigger": {"type": "event", "event": {"type": "order_delivered"}},
        "reentry": {"policy": "after_exit"},
        "steps": [
            {"id": "d3", "type": "wait", "duration": {"days": 3}, "next": "morning"},
            {"id": "morning", "type": "wait_until_time", "at": "10:00", "next": "care"},
            {"id": "care", "type": "send_message", "channel": "wecom", "content": {"text": "使用还顺利吗？"},
             "next": "d7"},
            {"id": "d7", "type": "wait", "duration": {"days": 7}, "next": "review"},
            {"id": "review", "type": "send_message", "channel": "wecom", "content": {"text": "邀请评价"},
             "next": "answered"},
            {"id": "answered", "type": "wait_for_event", "event": {"type": "survey_answered", "where": [
                {"property": "score", "op": "in", "value": [1, 2]}]}, "timeout": {"days": 3},
             "next": "escalate", "on_timeout": "done"},
            {"id": "escalate", "type": "create_task", "title": "差评回访", "due_in": {"hours": 4}},
            {"id": "done", "type": "add_tag", "tag": "售后关怀完成"},
        ],
    },
    "birthday": {
        "description": "生日礼：生日当天 10 点发生日券",
        "trigger": {"type": "date", "date": "birthday"},
        "reentry": {"policy": "cooldown", "after": {"days": 300}},
        "goal": {"event": "order_paid", "within": {"days": 7}},
        "steps": [
            {"id": "ten", "type": "wait_until_time", "at": "10:00", "next": "coupon"},
            {"id": "coupon", "type": "issue_coupon", "coupon": "BIRTHDAY", "next": "wish"},
            {"id": "wish", "type": "send_message", "channel": "wecom", "content": {"text": "生日快乐！生日券已到账"}},
        ],
    },
    "member_day": {
        "description": "会员日：每月 8 日向会员推送专属权益",
        "trigger": {"type": "date", "date": "member_day", "day_of_month": 8,
                    "audience": {"tag": "会员"}},
        "reentry": {"policy": "after_exit"},
        "goal": {"event": "order_paid", "within": {"days": 1}},
        "steps": [
            {"id": "ten", "type": "wait_until_time", "at": "10:00", "next": "offer"},
            {"id": "offer", "type": "send_message", "channel": "wecom", "content": {"text": "会员日专享"}},
        ],
    },
    "win_back_60d": {
        "description": "沉睡唤回：60 天未下单，发券提醒，七天内未回流则派导购任务",
        "trigger": {"type": "inactivity", "event": "order_paid", "days": 60},
        "holdout_percent": 10,
        "reentry": {"policy": "cooldown", "after": {"days": 90}},
        "goal": {"event": "order_paid", "within": {"days": 14}},
        "steps": [
            {"id": "coupon", "type": "issue_coupon", "coupon": "WIN_BACK", "next": "miss_you"},
            {"id": "miss_you", "type": "send_message", "channel": "wecom", "content": {"text": "好久不见"},
             "next": "back"},
            {"id": "back", "type": "wait_for_event", "event": "order_paid", "timeout": {"days": 7},
             "next": "won", "on_timeout": "call"},
            {"id": "won", "type": "add_tag", "tag": "已唤回"},
            {"id": "call", "type": "create_task", "title": "沉睡客户一对一唤回", "due_in": {"days": 2}},
        ],
    },
    # -- one playbook per industry quadrant (purchase frequency × how online) -----------------------
    "playbook_high_online": {
        "description": "高频线上（食品、美妆、服饰）：复购池，按上次购买后的补货周期提醒",
        "trigger": {"type": "event", "event": {"type": "order_paid"}},
        "reentry": {"policy": "after_exit"},
        "exit": ["unfollowed"],
        "goal": {"event": "order_paid", "within": {"days": 30}},
        "steps": [
            {"id": "thanks", "type": "send_message", "channel": "wecom", "content": {"text": "感谢购买"}, "next": "cycle"},
            {"id": "cycle", "type": "wait", "duration": {"days": 25}, "next": "again"},
            {"id": "again", "type": "wait_for_event", "event": "order_paid", "timeout": {"days": 5},
             "next": "loyal", "on_timeout": "replenish"},
            {"id": "loyal", "type": "add_tag", "tag": "复购"},
            {"id": "replenish", "type": "send_message", "channel": "wecom", "content": {"text": "该补货啦"}},
        ],
    },
    "playbook_high_offline": {
        "description": "高频线下（餐饮、美业、健身）：到店后邀约下次到店",
        "trigger": {"type": "event", "event": {"type": "store_visited"}},
        "reentry": {"policy": "after_exit"},
        "goal": {"event": "store_visited", "within": {"days": 21}},
        "steps": [
            {"id": "evening", "type": "wait_until_time", "at": "20:00", "next": "feedback"},
            {"id": "feedback", "type": "send_message", "channel": "wecom", "content": {"text": "今天体验如何？"},
             "next": "d14"},
            {"id": "d14", "type": "wait_for_event", "event": "store_visited", "timeout": {"days": 14},
             "next": "regular", "on_timeout": "invite"},
            {"id": "regular", "type": "add_tag", "tag": "常客"},
            {"id": "invite", "type": "issue_coupon", "coupon": "COME_BACK", "next": "book"},
            {"id": "book", "type": "create_task", "title": "电话邀约到店", "due_in": {"days": 1}},
        ],
    },
    "playbook_low_online": {
        "description": "低频线上（数码、奢品、教育、金融）：长决策，内容培育后由顾问跟进",
        "trigger": {"type": "event", "event": {"type": "lead_submitted"}},
        "goal": {"event": "order_paid", "within": {"days": 60}},
        "steps": [
            {"id": "guide", "type": "send_message", "channel": "wecom", "content": {"text": "选购指南"}, "next": "w3"},
            {"id": "w3", "type": "wait", "duration": {"days": 3}, "next": "engaged"},
            {"id": "engaged", "type": "branch", "rule": {"event": "content_viewed", "window": {"last_days": 3}},
             "yes": "advisor", "no": "case"},
            {"id": "advisor", "type": "create_task", "title": "高意向：顾问一对一讲解", "due_in": {"hours": 24}},
            {"id": "case", "type": "send_message", "channel": "wecom", "content": {"text": "客户案例"}, "next": "w7"},
            {"id": "w7", "type": "wait", "duration": {"days": 7}, "next": "nurture"},
            {"id": "nurture", "type": "add_tag", "tag": "培育中"},
        ],
    },
    "playbook_low_offline": {
        "description": "低频线下（地产、汽车、家居）：留资后邀约到店并由销售跟进",
        "trigger": {"type": "event", "event": {"type": "lead_submitted"}},
        "goal": {"event": "store_visited", "within": {"days": 30}},
        "exit": ["contact_deleted_by_customer"],
        "steps": [
            {"id": "call", "type": "create_task", "title": "两小时内电话回访留资客户", "due_in": {"hours": 2},
             "next": "visit"},
            {"id": "visit", "type": "wait_for_event", "event": "store_visited", "timeout": {"days": 7},
             "next": "visited", "on_timeout": "invite"},
            {"id": "visited", "type": "webhook", "url": "https://crm.example.com/hooks/visited",
             "body": {"stage": "visited"}},
            {"id": "invite", "type": "send_message", "channel": "sms", "content": {"text": "周末看房/试驾邀请"},
             "next": "weekend"},
            {"id": "weekend", "type": "wait", "duration": {"days": 7}, "next": "second_call"},
            {"id": "second_call", "type": "create_task", "title": "二次邀约到店", "due_in": {"days": 1}},
        ],
    },
}


def template(name: str) -> dict[str, Any]:
    """Return a template's definition (without its description)."""
    return {k: v for k, v in TEMPLATES[name].items() if k != "description"}
