"""The distributed path: funnels (every mode, a breakdown), GMV, repurchase, value, attribution and staff
performance on PySpark (local mode, loaded from the mirror) equal DuckDB's answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics import growth_brand as gb
from siyu.analytics import attribution, cohort_value, funnel, gmv, repurchase, staff_performance
from siyu.analytics.engines import open_facts
from siyu.analytics.funnel_spec import FunnelParams, parse_steps
from siyu.db.reset import reset_database

STEPS = parse_steps('[{"event": "content_viewed", "where": {"value": {">=": 15}}}, {"event": "contact_added"},'
                    ' {"order": "paid"}]')


def _all(facts: Any, tz: Any) -> dict[str, Any]:
    start, end = date(2026, 5, 1), date(2026, 6, 29)
    out: dict[str, Any] = {}
    for mode in ("ordered", "strict", "unordered"):
        params = FunnelParams(STEPS, start, end, 14 * 86400, mode, "staff" if mode == "ordered" else None)  # type: ignore[arg-type]
        r = funnel.compute(facts, params, tz)
        out[f"funnel-{mode}"] = ([vars(s) for s in r.steps], [(d, [vars(s) for s in g]) for d, g in r.breakdown])
    d = gmv.decompose(facts, gmv.Period(date(2026, 6, 1), date(2026, 6, 29)), gmv.Period(start, date(2026, 5, 31)), tz)
    out["gmv"] = (d.base, d.current, d.parts_fen)
    out["repurchase"] = vars(repurchase.compute(facts, repurchase.RepurchaseParams(start, end, "week", 20), tz))
    out["value"] = vars(cohort_value.compute(facts, cohort_value.ValueParams(start, end, "joined"), tz))
    out["attribution"] = attribution.compute(facts, attribution.AttributionParams(start, end, 7), tz, 1_800_000_000)
    out["staff"] = staff_performance.compute(facts, staff_performance.StaffParams(start, end, 14), tz)
    for key in ("repurchase", "value"):
        out[key].pop("engine")
    return out


@pytest.mark.slow
def test_the_growth_analyses_on_spark_equal_duckdb(settings: Any, tmp_path: Path) -> None:
    store = gb.load(reset_database(f"sqlite:///{tmp_path / 'spark-growth.db'}"), settings)
    answers = {}
    for engine in ("duckdb", "spark"):
        facts = open_facts(store, tmp_path, engine)
        try:
            answers[engine] = _all(facts, settings.tz)
        finally:
            facts.close()
    store.dispose()
    assert answers["duckdb"]["funnel-ordered"][0][2]["customers"] > 0
    for name in answers["duckdb"]:
        assert answers["spark"][name] == answers["duckdb"][name], name
