"""benchmarks/bigdata.py builds exactly the sizes asked, a consistent store, and the same store twice."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _build(data_dir: Path) -> dict[str, int]:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bigdata.py"), "--data-dir", str(data_dir), "--customers", "300",
                    "--orders", "3000", "--events", "20000", "--memory", "1GB"], check=True, capture_output=True)
    return json.loads((data_dir / "bigdata.json").read_text())["steps"]["result"]["counts"]


def _one(con: sqlite3.Connection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


@pytest.mark.slow
def test_a_small_build_has_the_sizes_asked_and_a_consistent_store(tmp_path: Path) -> None:
    counts = _build(tmp_path / "a")
    assert (counts["orders"], counts["events"]) == (3000, 20000)
    con = sqlite3.connect(tmp_path / "a" / "siyu.db")
    end = "2026-11-01 00:00:00"
    assert _one(con, f"SELECT count(*) FROM events WHERE occurred_at >= '{end}'") == 0
    assert _one(con, "SELECT count(*) FROM events e LEFT JOIN identities i ON i.id = e.identity_id WHERE i.id IS NULL") == 0
    assert _one(con, "SELECT count(*) FROM events e JOIN identities i ON i.id = e.identity_id "
                     "JOIN customers c ON c.id = i.customer_id WHERE e.occurred_at < c.first_seen_at") == 0
    assert _one(con, "SELECT count(*) FROM orders o WHERE amount_fen <> "
                     "(SELECT sum(amount_fen) FROM order_items i WHERE i.order_pk = o.id)") == 0
    assert _one(con, "SELECT count(*) FROM orders o WHERE NOT EXISTS "
                     "(SELECT 1 FROM order_facts f WHERE f.order_pk = o.id AND f.status = 'paid')") == 0
    # the mirror was synced from the finished store
    mirror = duckdb.connect(str(tmp_path / "a" / "analytics.duckdb"), read_only=True)
    assert mirror.execute("SELECT count(*) FROM events").fetchone()[0] == 20000
    mirror.close()
    con.close()


@pytest.mark.slow
def test_the_same_parameters_build_the_same_facts(tmp_path: Path) -> None:
    rows = []
    for name in ("a", "b"):
        _build(tmp_path / name)
        con = sqlite3.connect(tmp_path / name / "siyu.db")
        rows.append((con.execute("SELECT id, event_id, type, occurred_at, identity_id, channel, properties FROM events "
                                 "WHERE event_id LIKE 'bx%' ORDER BY id").fetchall(),
                     con.execute("SELECT id, order_id, identity_id, amount_fen, status, paid_at FROM orders "
                                 "WHERE order_id LIKE 'BX%' ORDER BY id").fetchall()))
        con.close()
    assert rows[0][0] and rows[0][1]
    for kind in (0, 1):
        assert len(rows[0][kind]) == len(rows[1][kind])
        assert next(((a, b) for a, b in zip(rows[0][kind], rows[1][kind], strict=True) if a != b), None) is None
