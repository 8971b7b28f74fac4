"""The distributed path: every analysis on PySpark (local mode, loaded from the mirror) equals DuckDB."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from analytics.test_aipl import load_brand
from analytics.test_rfm import AS_OF
from siyu.analytics import aipl, lifecycle, retention, rfm
from siyu.analytics.engines import open_facts
from siyu.db.reset import reset_database


def _all(facts: Any, tz: Any) -> dict[str, Any]:
    params = rfm.RfmParams(as_of=AS_OF, window_days=120)
    return {
        "rfm": rfm.compute(facts, params, tz, with_rows=True).rows,
        "lifecycle": lifecycle.compute(facts, params, tz).tiers,
        "aipl": aipl.flows(facts, rfm.RfmParams(as_of=AS_OF - timedelta(days=30), window_days=90),
                           rfm.RfmParams(as_of=AS_OF, window_days=90), tz),
        "retention": [retention.compute(facts, retention.RetentionParams(AS_OF - timedelta(days=100), AS_OF, unit,
                                                                          6), tz).cohorts
                      for unit in ("day", "week", "month")],
    }


@pytest.mark.slow
def test_every_analysis_on_spark_equals_duckdb(settings: Any, tmp_path: Path) -> None:
    """Spark is loaded from the embedded store's mirror, so the brand goes into a SQLite store of its own."""
    store = load_brand(reset_database(f"sqlite:///{tmp_path / 'spark-brand.db'}"), settings)
    answers = {}
    for engine in ("duckdb", "spark"):
        facts = open_facts(store, tmp_path, engine)
        try:
            answers[engine] = _all(facts, settings.tz)
        finally:
            facts.close()
    store.dispose()
    assert answers["duckdb"]["rfm"] and answers["duckdb"]["retention"][2]
    for name in answers["duckdb"]:
        assert answers["spark"][name] == answers["duckdb"][name], name
