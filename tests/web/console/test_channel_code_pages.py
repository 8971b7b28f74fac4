"""Channel-code pages: list with 30-day figures, a code's page, create and edit with errors by field."""

from __future__ import annotations

import re

from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.channel_codes import service as codes
from siyu.domains.channel_codes.models import ChannelCode

FORM = {"name": "小红书笔记", "platform": "xiaohongshu", "strategy": "weighted", "state": "", "channel": "春季新品",
        "pool": "alice:3:20\nbob", "backup": "bob", "tags": "小红书, 新品", "welcome_template": "您好 {customer_name}",
        "hours_mon": "09:00-12:00, 13:00-18:00", "hours_tue": "9:00-18:00"}


def test_list_shows_codes_with_their_figures(console, brand) -> None:
    res = console("ana").get("/channel-codes")
    assert res.status_code == 200
    assert f'data-code-id="{brand.code}"' in res.text and "门店海报" in res.text
    row = re.search(rf'data-code-id="{brand.code}".*?</tr>', res.text, re.DOTALL).group(0)
    assert re.findall(r'data-label="当前好友">(\d+)<', row) == ["1"]  # zhang follows alice through it
    assert f'href="/customers?channel_code={brand.code}"' in row
    assert 'href="/channel-codes/new"' not in res.text  # analysts only look


def test_create_a_code_with_every_option(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    client.page("/channel-codes/new")
    res = client.submit("/channel-codes/new", FORM, follow_redirects=False)
    assert res.status_code == 303
    code_id = int(res.headers["location"].rsplit("/", 1)[1])
    with unit_of_work(db_engine, write=False) as s:
        view = codes.get_code(s, code_id)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "channel_code.create")).one()
    c = view.code
    assert (c.name, c.platform, c.strategy, c.channel, c.tags) == ("小红书笔记", "xiaohongshu", "weighted", "春季新品",
                                                                    ["小红书", "新品"])
    assert [(m.staff.userid, m.weight, m.daily_cap) for m in view.pool] == [("alice", 3, 20), ("bob", 1, None)]
    assert [b.userid for b in view.backups] == ["bob"]
    assert c.working_hours == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [["09:00", "18:00"]]}
    assert c.welcome_template == "您好 {customer_name}" and c.state.startswith("c")
    assert entry.actor == "user:ops"
    page = client.get(f"/channel-codes/{code_id}").text
    assert 'data-chart="daily"' in page and "09:00–12:00, 13:00–18:00" in page and "休息" in page


def test_form_errors_show_beside_their_fields_and_keep_the_input(console, brand, db_engine: Engine) -> None:
    client = console("ops")
    client.page("/channel-codes/new")
    cases = {
        "pool": ({"pool": "alice:x"}, "无法识别「alice:x」"),
        "working_hours": ({"hours_wed": "18:00-09:00"}, "工作时间格式为"),
        "state": ({"state": "has space"}, "state 为 1–30"),
        "backup": ({"backup": "nobody1"}, "没有这些员工：nobody1"),
        "name": ({"name": " "}, "名称需为 1–80 个字符"),
    }
    for field, (change, message) in cases.items():
        res = client.submit("/channel-codes/new", {**FORM, **change})
        assert res.status_code == 422, field
        assert f'data-field="{field}">{message}' in res.text, field
        assert "春季新品" in res.text  # what was typed stays
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalars(select(ChannelCode.name)).all() == ["门店海报"]  # nothing half-created


def test_edit_changes_settings_and_can_deactivate(console, brand, db_engine: Engine) -> None:
    client = console("admin")
    form = client.page(f"/channel-codes/{brand.code}/edit").text
    assert 'name="pool"' in form and "alice" not in re.search(r'<textarea name="pool"[^>]*>([^<]*)<', form).group(1)
    res = client.submit(f"/channel-codes/{brand.code}/edit", {**FORM, "name": "门店海报（新版）", "pool": "bob:2",
                                                              "state": ""}, follow_redirects=False)
    assert res.status_code == 303
    with unit_of_work(db_engine, write=False) as s:
        view = codes.get_code(s, brand.code)
    assert (view.code.name, view.code.active) == ("门店海报（新版）", False)  # the checkbox was not sent
    assert [(m.staff.userid, m.weight) for m in view.pool] == [("bob", 2)]


def test_a_failed_edit_changes_nothing(console, brand, db_engine: Engine) -> None:
    client = console("admin")
    client.page(f"/channel-codes/{brand.code}/edit")
    res = client.submit(f"/channel-codes/{brand.code}/edit", {**FORM, "name": "改名", "backup": "ghost01",
                                                              "active": "1"})
    assert res.status_code == 422
    with unit_of_work(db_engine, write=False) as s:
        assert codes.get_code(s, brand.code).code.name == "门店海报"


def test_roles_and_unknown_codes(console, brand) -> None:
    assert console("alice_u").get("/channel-codes").status_code == 403
    ana = console("ana")
    assert ana.get("/channel-codes/new").status_code == 403
    assert ana.get("/channel-codes/999999").status_code == 404
    assert 'href="/channel-codes"' in console("ops").get("/customers").text
