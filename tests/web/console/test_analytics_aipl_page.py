"""The AIPL page: the service's stages and flows, and the rules printed (refusals: test_analytics_refusals.py)."""

from __future__ import annotations

import re
from typing import Any

from web.console.analytics_brand import AS_OF, EARLIER, buyers, service  # noqa: F401 - buyers is a fixture
from web.console.test_analytics_rfm_page import FLOW

from siyu.analytics import aipl
from siyu.analytics.rfm import RfmParams

STAGE = re.compile(r'data-stage="(\w+)">.*?data-customers="(\d+)"', re.DOTALL)
BASE = f"/analytics/aipl/result?as_of={AS_OF}&window_days=120&compare_to={EARLIER}"



def test_the_page_shows_the_services_stages_and_flows(console: Any, buyers: None, db_engine: Any, settings: Any) -> None:
    params, earlier = RfmParams(AS_OF, 120), RfmParams(EARLIER, 120)
    stages, flows = service(db_engine, settings, lambda f: (aipl.distribution(f, params, settings.tz),
                                                          aipl.flows(f, earlier, params, settings.tz)))
    res = console("ops").get(BASE)
    assert res.status_code == 200
    assert {s: int(n) for s, n in STAGE.findall(res.text)} == stages and sum(stages.values()) > 10
    assert {(a, b): int(n.replace(",", "")) for a, b, n in FLOW.findall(res.text)} == {k: v for k, v in flows.items() if v}
    assert 'data-chart="sankey"' in res.text and 'data-chart="bars"' in res.text


def test_the_rules_applied_are_printed(console: Any) -> None:
    client = console("ana")
    client.cookies.set("siyu_lang", "en")
    html = client.get("/analytics/aipl").text
    rules = html[html.index('data-testid="aipl-rules"'):]
    for stage in aipl.STAGES:
        for alt in aipl.DEFAULT[stage]:
            assert ", ".join(alt.events) in rules
    assert "at least 2 paid orders" in rules and "Loyalty" in rules
