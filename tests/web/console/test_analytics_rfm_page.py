"""The RFM page: the service's numbers, the controls passed through, errors beside their fields, roles.

Every test runs on SQLite (through the DuckDB mirror) and on PostgreSQL (in place).
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from web.console.analytics_brand import AS_OF, EARLIER, buyers, service  # noqa: F401 - buyers is a fixture

from siyu.analytics import rfm
from siyu.kit.time import local_day, utcnow

CELL = re.compile(r'data-segment="(\w+)"[^>]*>\s*<div class="segment-name">[^<]*</div>\s*'
                  r'<div class="segment-count" data-customers="(\d+)">')
FLOW = re.compile(r'data-from="(\w+)" data-to="(\w+)">.*?<td[^>]*>[^<]*</td><td[^>]*>[^<]*</td><td[^>]*>([\d,]+)</td>')
ERROR = re.compile(r'class="field-error" role="alert" data-field="([\w.]+)">([^<]*)<')
BASE = f"/analytics/rfm/result?as_of={AS_OF}&window_days=365&compare_to={EARLIER}"



def errors(html: str) -> dict[str, str]:
    """Return {field: message} of the errors shown beside the form's fields."""
    return {field: unescape(message) for field, message in ERROR.findall(html)}


def test_the_page_shows_the_services_segments_and_moves(console: Any, buyers: None, db_engine: Any, settings: Any) -> None:
    params, earlier = rfm.RfmParams(AS_OF, 365), rfm.RfmParams(EARLIER, 365)
    expected, flows = service(db_engine, settings, lambda f: (rfm.compute(f, params, settings.tz),
                                                            rfm.migration(f, earlier, params, settings.tz)))
    res = console("ana").get(BASE)
    assert res.status_code == 200
    assert {code: int(n) for code, n in CELL.findall(res.text)} == expected.segments
    assert sum(expected.segments.values()) == expected.customers > 20
    shown = {(a, b): int(n.replace(",", "")) for a, b, n in FLOW.findall(res.text)}
    assert shown == {k: v for k, v in flows.items() if v} and len(shown) > 3
    assert 'data-chart="sankey"' in res.text and 'data-chart="bars"' in res.text
    assert 'data-engine="' + ("postgres" if db_engine.dialect.name == "postgresql" else "duckdb") in res.text


def test_average_spend_is_the_segments_net_spend_per_customer(console: Any, buyers: None, db_engine: Any,
                                                               settings: Any) -> None:
    expected = service(db_engine, settings, lambda f: rfm.compute(f, rfm.RfmParams(AS_OF, 365), settings.tz))
    html = console("ana").get(BASE).text
    code = max(expected.segments, key=lambda c: expected.segments[c])
    cell = html[html.index(f'data-segment="{code}"'):]
    average = (expected.spend_fen[code] / expected.segments[code]) / 100
    assert f"¥{average:,.2f}" in cell[:cell.index("</td>")]


def test_business_thresholds_and_window_reach_the_service(console: Any, buyers: None, db_engine: Any,
                                                          settings: Any) -> None:
    cuts = rfm.Thresholds((7, 30, 90, 180), (2, 3, 4, 5), (5_000, 20_000, 60_000, 150_000))
    params = rfm.RfmParams(AS_OF, 200, cuts)
    expected = service(db_engine, settings, lambda f: rfm.compute(f, params, settings.tz))
    res = console("ana").get(f"/analytics/rfm/result?as_of={AS_OF}&window_days=200&compare_to=&scoring=thresholds"
                             "&thr_r=7,30,90,180&thr_f=2 3 4 5&thr_m=50, 200, 600, 1500")
    assert res.status_code == 200
    assert {code: int(n) for code, n in CELL.findall(res.text)} == expected.segments
    quintiles = service(db_engine, settings, lambda f: rfm.compute(f, rfm.RfmParams(AS_OF, 200), settings.tz))
    assert expected.segments != quintiles.segments  # the thresholds changed the answer
    assert 'data-testid="rfm-flows"' not in res.text  # no earlier day: no moves


@pytest.mark.parametrize(("query", "field", "text"), [
    ("as_of=2026-02-30", "as_of", "2026-10-31"),
    ("as_of=FUTURE", "as_of", "today"),
    ("window_days=0", "window_days", "3660"),
    ("window_days=abc", "window_days", "whole number"),
    ("compare_to=2026-03-01", "compare_to", "before the as-of day"),
    ("scoring=thresholds&thr_f=2,3,3,5", "thr_f", "ascending"),
    ("scoring=thresholds&thr_m=1,2,x,4", "thr_m", "four numbers"),
    ("scoring=best", "scoring", "options"),
])
def test_bad_input_is_refused_beside_its_field(console: Any, settings: Any, query: str, field: str, text: str) -> None:
    tomorrow = local_day(utcnow(), settings.tz) + timedelta(days=1)
    client = console("ana")
    client.cookies.set("siyu_lang", "en")
    for path in ("/analytics/rfm", "/analytics/rfm/result"):
        res = client.get(f"{path}?as_of={AS_OF}&{query.replace('FUTURE', tomorrow.isoformat())}")
        assert res.status_code == 422
        assert text in errors(res.text)[field]
        assert 'data-testid="computed"' not in res.text  # nothing computed on bad input


def test_errors_speak_chinese_by_default(console: Any) -> None:
    res = console("ana").get("/analytics/rfm?window_days=99999")
    assert res.status_code == 422 and errors(res.text) == {"window_days": "请输入 1 到 3660 天。"}


@pytest.mark.parametrize("user", ["admin", "ops", "ana"])
def test_analysts_operators_and_admins_find_it_in_data_operations(console: Any, user: str) -> None:
    html = console(user).get("/dashboard").text
    nav = html[html.index('id="main-nav"'):html.index("</nav>")]
    assert 'href="/analytics/rfm"' in nav[nav.index("数据运营"):]


def test_the_page_answers_at_once_and_loads_its_result(console: Any, buyers: None) -> None:
    client = console("ana")
    first = client.get(f"/analytics/rfm?as_of={AS_OF}")
    assert first.status_code == 200 and 'data-testid="computing"' in first.text
    slot = re.search(r'hx-get="([^"]+)"', first.text[first.text.index('id="analytics-result"'):])
    assert slot and unescape(slot.group(1)).startswith("/analytics/rfm/result?")
    assert f"as_of={AS_OF}" in slot.group(1)
    fragment = client.get(unescape(slot.group(1)), headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and CELL.search(fragment.text)
    again = client.get(f"/analytics/rfm?as_of={AS_OF}")  # computed on the store as it is: shown at once
    assert CELL.search(again.text) and 'data-testid="computing"' not in again.text


def test_while_the_mirror_syncs_the_page_says_so_and_asks_again(console: Any, buyers: None, app: Any) -> None:
    app.state.analytics_sync_wait = 0  # answer at once instead of waiting for the first copy
    client = console("ana")
    client.cookies.set("siyu_lang", "en")
    first = client.get(BASE, headers={"HX-Request": "true"})
    if app.state.engine.dialect.name == "postgresql":  # no mirror: read in place
        assert "Read from the store in place" in first.text and CELL.search(first.text)
        return
    assert first.status_code == 200 and 'data-testid="mirror-syncing"' in first.text
    assert "being built for the first time" in first.text and 'hx-trigger="load delay:2s"' in first.text
    assert not CELL.search(first.text)
    app.state.console_analytics.settle(300)
    second = client.get(BASE, headers={"HX-Request": "true"})
    assert CELL.search(second.text) and "Analytical copy synced with the store at" in second.text
