"""`siyu analyze rfm` prints the segments as a table, JSON or CSV, and refuses bad parameters with exit 2."""

from __future__ import annotations

import csv
import io
import json

import pytest

from siyu.cli.main import app
from siyu.config import get_settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.domains.ingest import service as ingest

ORDERS = [  # three buyers: 0 paid twice recently, 1 once long ago, 2 once recently and refunded in part
    {"order_id": "A1", "status": "paid", "occurred_at": "2026-06-29T10:00:00+08:00", "amount": "300.00",
     "identities": {"openid:wxmini": "oCLI000000"}},
    {"order_id": "A2", "status": "paid", "occurred_at": "2026-06-30T10:00:00+08:00", "amount": "200.00",
     "identities": {"openid:wxmini": "oCLI000000"}},
    {"order_id": "B1", "status": "paid", "occurred_at": "2025-09-01T10:00:00+08:00", "amount": "50.00",
     "identities": {"openid:wxmini": "oCLI000001"}},
    {"order_id": "C1", "status": "paid", "occurred_at": "2026-06-20T10:00:00+08:00", "amount": "80.00",
     "identities": {"openid:wxmini": "oCLI000002"}},
    {"order_id": "C1", "status": "refunded", "occurred_at": "2026-06-21T10:00:00+08:00", "amount": "80.00",
     "refund_id": "r1", "refund_amount": "30.00"},
]


@pytest.fixture
def cli(cli_store):
    runner, _url = cli_store
    settings = get_settings()
    with unit_of_work(make_engine(settings.effective_database_url)) as s:
        assert ingest.ingest_orders(s, ingest.IngestContext.from_settings(settings), ORDERS).accepted == 5
    yield runner


def test_table_json_and_csv(cli):
    table = cli.invoke(app, ["analyze", "rfm", "--as-of", "2026-06-30"])
    assert table.exit_code == 0, table.output
    assert "3 buyers" in table.output and "重要价值客户" in table.output and "duckdb" in table.output
    data = json.loads(cli.invoke(app, ["analyze", "rfm", "--as-of", "2026-06-30", "--format", "json"]).output)
    assert data["customers"] == 3 and sum(s["customers"] for s in data["segments"]) == 3
    assert data["params"] == {"as_of": "2026-06-30", "window_days": 365, "scoring": "quintiles", "engine": "duckdb"}
    rows = list(csv.DictReader(io.StringIO(cli.invoke(app, ["analyze", "rfm", "--as-of", "2026-06-30",
                                                             "--format", "csv"]).output)))
    got = {(r["recency_days"], r["frequency"], r["monetary"]) for r in rows}
    assert got == {("0", "2", "500.00"), ("302", "1", "50.00"), ("10", "1", "50.00")}
    narrow = json.loads(cli.invoke(app, ["analyze", "rfm", "--as-of", "2026-06-30", "--window-days", "30",
                                         "--format", "json"]).output)
    assert narrow["customers"] == 2  # the 2025 buyer is outside a 30-day window
    moved = json.loads(cli.invoke(app, ["analyze", "rfm", "--as-of", "2026-06-30", "--window-days", "30",
                                        "--compare-to", "2026-06-25", "--format", "json"]).output)["migration"]
    assert moved["from_as_of"] == "2026-06-25" and sum(f["customers"] for f in moved["flows"]) == 2
    assert any(f["from"] == "none" for f in moved["flows"])  # buyer 0 had not paid yet on the 25th
    table = cli.invoke(app, ["analyze", "rfm", "--as-of", "2026-06-30", "--compare-to", "2026-06-25"])
    assert table.exit_code == 0 and "moves since 2026-06-25" in table.output


@pytest.mark.parametrize("args, message", [
    (["--as-of", "2099-01-01"], "as_of_in_future"),
    (["--as-of", "2026-06-30", "--window-days", "0"], "window must be"),
    (["--as-of", "2026-06-30", "--thresholds", '{"recency_days": [1, 2]}'], "--thresholds takes JSON"),
    (["--as-of", "2026-06-30", "--thresholds", '{"recency_days": [9, 2, 3, 4], "frequency": [1, 2, 3, 4], '
                                               '"monetary_fen": [1, 2, 3, 4]}'], "strictly ascending"),
    (["--as-of", "2026-06-30", "--engine", "postgres"], "needs a PostgreSQL store"),
    (["--as-of", "2026-06-30", "--engine", "clickhouse"], "unknown engine"),
])
def test_bad_parameters_exit_2_with_a_message(cli, args, message):
    result = cli.invoke(app, ["analyze", "rfm", *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_lifecycle_with_default_and_custom_rules(cli, tmp_path):
    table = cli.invoke(app, ["analyze", "lifecycle", "--as-of", "2026-06-30"])
    assert table.exit_code == 0, table.output
    assert "3 buyers" in table.output and "新客" in table.output and "3 new, 0 returning" in table.output
    data = json.loads(cli.invoke(app, ["analyze", "lifecycle", "--as-of", "2026-06-30", "--format", "json"]).output)
    assert sum(t["customers"] for t in data["tiers"]) == 3 and data["new_buyers"] + data["returning_buyers"] == 3
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"tier": "big", "when": {"spend_fen": {">=": 40000}}}, {"tier": "small"}]))
    custom = json.loads(cli.invoke(app, ["analyze", "lifecycle", "--as-of", "2026-06-30", "--rules", str(rules),
                                         "--format", "json"]).output)
    assert {t["tier"]: t["customers"] for t in custom["tiers"]} == {"big": 1, "small": 2}
    rules.write_text('[{"tier": "x", "when": {"orders": {">": 1}}}]')
    bad = cli.invoke(app, ["analyze", "lifecycle", "--as-of", "2026-06-30", "--rules", str(rules)])
    assert bad.exit_code == 2 and "use >=, <= or ==" in bad.output
    missing = cli.invoke(app, ["analyze", "lifecycle", "--as-of", "2026-06-30", "--rules", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_aipl_table_json_and_bad_rules(cli, tmp_path):
    table = cli.invoke(app, ["analyze", "aipl", "--as-of", "2026-06-30", "--compare-to", "2026-06-25"])
    assert table.exit_code == 0, table.output
    assert "认知" in table.output and "moves since 2026-06-25" in table.output
    data = json.loads(cli.invoke(app, ["analyze", "aipl", "--as-of", "2026-06-30", "--format", "json"]).output)
    assert {s["stage"]: s["customers"] for s in data["stages"]} == {"awareness": 0, "interest": 0, "purchase": 1,
                                                                    "loyalty": 1}  # 90 days: buyer 0 paid twice
    assert "flows" not in data
    rules = tmp_path / "aipl.json"
    rules.write_text('{"awareness": [{"orders": 1}]}')
    bad = cli.invoke(app, ["analyze", "aipl", "--as-of", "2026-06-30", "--rules", str(rules)])
    assert bad.exit_code == 2 and "exactly the stages" in bad.output


def test_retention_triangle(cli):
    table = cli.invoke(app, ["analyze", "retention", "--from", "2025-09-01", "--to", "2026-06-30", "--unit", "month",
                             "--periods", "3"])
    assert table.exit_code == 0, table.output
    assert "2025-09-01" in table.output and "100.0%" in table.output
    data = json.loads(cli.invoke(app, ["analyze", "retention", "--from", "2026-06-01", "--to", "2026-06-30",
                                       "--unit", "week", "--periods", "2", "--format", "json"]).output)
    assert [(c["cohort"], c["size"], c["retained"]) for c in data["cohorts"]] == [
        ("2026-06-15", 1, [1, 0, 0]), ("2026-06-29", 1, [1])]  # buyer C's week, buyer 0's week
    rows = list(csv.reader(io.StringIO(cli.invoke(app, ["analyze", "retention", "--from", "2026-06-01", "--to",
                                                         "2026-06-30", "--unit", "day", "--periods", "1",
                                                         "--format", "csv"]).output)))
    assert rows[0] == ["cohort", "size", "p0", "p1"] and ["2026-06-29", "1", "1", "1"] in rows
    bad = cli.invoke(app, ["analyze", "retention", "--from", "2026-06-30", "--to", "2026-06-01"])
    assert bad.exit_code == 2 and "is after end" in bad.output
    bad = cli.invoke(app, ["analyze", "retention", "--from", "2026-06-01", "--to", "2026-06-30", "--cohort-by", "x"])
    assert bad.exit_code == 2 and "--cohort-by" in bad.output
