"""The customers list's activity filter in the console: what the dashboard's links open, errors beside fields."""

from __future__ import annotations

import re

DAY = {"activity_from": "2026-01-01", "activity_to": "2026-01-01"}


def _rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-customer-id="(\d+)"', html)]


def test_an_activity_lists_its_customers_and_keeps_the_form_filled(console, brand) -> None:
    res = console("ops").get("/customers", params={"activity": "contact_added", "activity_staff": "alice", **DAY})
    assert res.status_code == 200
    assert _rows(res.text) == [brand.xss, brand.zhang]  # both added alice that day, newest first
    assert '<option value="contact_added" selected>添加了员工好友</option>' in res.text
    assert 'name="activity_staff" value="alice"' in res.text


def test_activity_errors_show_beside_their_fields(console, brand) -> None:
    client = console("ops")
    missing = client.get("/customers", params={"activity": "lost", "activity_from": "2026-01-01"})
    unused = client.get("/customers", params={"activity": "group_left", "activity_staff": "alice", **DAY})
    alone = client.get("/customers", params={"activity_from": "2026-01-01"})
    assert (missing.status_code, unused.status_code, alone.status_code) == (422, 422, 422)
    assert 'data-field="activity_to">请填写日期' in missing.text
    assert 'data-field="activity_staff">所选行为不使用这一项，请留空' in unused.text
    assert 'data-field="activity">请先选择一种行为' in alone.text
    assert _rows(missing.text) == []  # nothing is listed under a filter that could not be read
