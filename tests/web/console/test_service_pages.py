"""Service pages: rules and FAQ (add, edit, delete, try-it), refusals beside their field, the SLA report."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.service import service as svc


def test_rules_page_adds_edits_tries_and_deletes(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    assert ops.page("/service/rules").status_code == 200
    res = ops.submit("/service/rules", {"name": "菜单", "match_type": "exact", "patterns": "帮助\n人工",
                                        "reply": "请选择：", "options": "1 = 物流 = 请看订单页", "priority": "2",
                                        "enabled": "1"}, follow_redirects=False)
    assert res.status_code == 303, res.text
    with unit_of_work(db_engine, write=False) as s:
        rule = svc.list_rules(s)[0]
        assert (rule.patterns, rule.options) == (["帮助", "人工"], [{"key": "1", "label": "物流", "reply": "请看订单页"}])
    edit = ops.page(f"/service/rules?edit={rule.id}")
    assert 'name="id" value="%d"' % rule.id in edit.text and "1 = 物流 = 请看订单页" in edit.text
    ops.submit("/service/rules", {"id": str(rule.id), "name": "菜单", "match_type": "exact", "patterns": "帮助",
                                  "reply": "请选择：", "options": "", "priority": "2", "enabled": "1"})
    tried = ops.submit("/service/try", {"text": "帮助", "page": "rules"})
    decision = re.search(r'data-testid="service-decision" data-kind="(\w+)"', tried.text)
    assert decision.group(1) == "rule" and "关键词规则回复" in tried.text
    assert ops.submit("/service/try", {"text": "人工", "page": "rules"}).text.count('data-kind="handoff"') == 1
    ops.page("/service/rules")
    assert ops.submit(f"/service/rules/{rule.id}/delete", follow_redirects=False).status_code == 303
    with unit_of_work(db_engine, write=False) as s:
        assert svc.list_rules(s) == []


def test_invalid_regex_is_shown_beside_the_patterns(console, brand) -> None:
    ops = console("ops")
    ops.page("/service/rules")
    res = ops.submit("/service/rules", {"name": "x", "match_type": "regex", "patterns": "订单[0-9", "reply": "r"})
    assert res.status_code == 422
    assert re.search(r'data-field="patterns">第 0 个关键词（从 0 数起）不是有效的正则表达式：第 2 个字符处有误。<', res.text)
    assert "订单[0-9" in res.text  # the form keeps what was typed


def test_faq_page_and_analyst_reads_only(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    ops.page("/service/faq")
    ops.submit("/service/faq", {"question": "多久发货？", "answer": "48小时内", "alternatives": "什么时候发货",
                                "keywords": ""})
    tried = ops.submit("/service/try", {"text": "请问什么时候能发货", "page": "faq"})
    assert 'data-kind="faq"' in tried.text and "48小时内" in tried.text
    ana = console("ana")
    page = ana.page("/service/faq")
    assert page.status_code == 200 and "多久发货？" in page.text and 'data-testid="service-faq-form"' not in page.text
    assert ana.submit("/service/faq", {"question": "q", "answer": "a"}).status_code == 403


def test_sla_page_shows_the_report(console, brand, db_engine: Engine) -> None:
    res = console("ana").page("/service/sla?day=2026-01-05")
    assert res.status_code == 200 and "这一天没有转人工的会话" in res.text and 'value="2026-01-05"' in res.text
    bad = console("ana").page("/service/sla?day=soon")
    assert "日期格式应为 YYYY-MM-DD" in bad.text


def test_synonyms_on_the_faq_page(console, brand, db_engine: Engine) -> None:
    ops = console("ops")
    ops.page("/service/faq")
    ops.submit("/service/faq", {"question": "退款多久到账？", "answer": "1-3天"})
    assert ops.submit("/service/synonyms", {"words": "退款，返款"}, follow_redirects=False).status_code == 303
    page = ops.page("/service/faq")
    assert "退款 / 返款" in page.text
    assert 'data-kind="faq"' in ops.submit("/service/try", {"text": "返款", "page": "faq"}).text
    bad = ops.submit("/service/synonyms", {"words": "退款"})
    assert bad.status_code == 422 and 'data-field="synonyms"' in bad.text
    with unit_of_work(db_engine, write=False) as s:
        group = svc.list_synonyms(s)[0].id
    ops.page("/service/faq")
    assert ops.submit(f"/service/synonyms/{group}/delete", follow_redirects=False).status_code == 303
