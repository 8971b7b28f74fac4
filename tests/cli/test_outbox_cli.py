"""`siyu outbox` and `siyu worker --once`: dispatch what is due, list with reasons, the do-not-contact list, the policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from siyu.cli.common import engine
from siyu.cli.main import app
from siyu.db.engine import unit_of_work
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.outbox.models import RecordedDelivery


@pytest.fixture
def cli(cli_store):
    runner, _url = cli_store
    yield runner


def _enqueue(keys: list[str], customer: int = 3) -> None:
    with unit_of_work(engine()) as s:
        enqueue(s, [NewMessage(k, "order_shipped", "wecom", {"text": "已发货"}, customer_id=customer) for k in keys])


def test_dispatch_list_and_dnc(cli: CliRunner, tmp_path: Path) -> None:
    _enqueue(["k1", "k2"])
    out = cli.invoke(app, ["outbox", "dispatch", "--once"])
    assert out.exit_code == 0, out.output
    assert out.output.strip().splitlines()[-1] == "claimed 2: sent 2, failed 0, dead 0; held: none"
    with unit_of_work(engine(), write=False) as s:
        assert sorted(s.scalars(select(RecordedDelivery.idempotency_key))) == ["k1", "k2"]
    assert cli.invoke(app, ["outbox", "dnc", "add", "3"]).output.strip() == "added"
    _enqueue(["k3"])
    out = cli.invoke(app, ["worker", "--once"])
    assert out.exit_code == 0, out.output
    assert "outbox: 0 sent, 0 to retry, 0 dead, 1 held" in out.output
    rows = json.loads(cli.invoke(app, ["outbox", "list", "--format", "json", "--status", "suppressed"]).output)
    assert [(r["id"], r["reason"]) for r in rows] == [(3, "do_not_contact")]
    counts = cli.invoke(app, ["outbox", "counts"]).output
    assert "sent                2" in counts and "suppressed/do_not_contact: 1" in counts
    entry = json.loads(cli.invoke(app, ["outbox", "dnc", "list", "--format", "json"]).output)[0]
    assert cli.invoke(app, ["outbox", "dnc", "remove", str(entry["id"])]).exit_code == 0
    assert cli.invoke(app, ["outbox", "dnc", "remove", str(entry["id"])]).exit_code == 2


def test_policy_round_trip(cli: CliRunner, tmp_path: Path) -> None:
    doc = tmp_path / "policy.json"
    doc.write_text(json.dumps({"wecom_mass_limit": "week_7", "quiet_hours": {"start": "21:30", "end": "09:00"}}))
    assert cli.invoke(app, ["outbox", "policy", "set", str(doc)]).output.strip() == "policy saved"
    shown = json.loads(cli.invoke(app, ["outbox", "policy", "show"]).output)
    assert (shown["wecom_mass_limit"], shown["quiet_hours"]["start"]) == ("week_7", "21:30:00")
    doc.write_text(json.dumps({"over_cap": "never"}))
    bad = cli.invoke(app, ["outbox", "policy", "set", str(doc)])
    assert bad.exit_code == 2 and "outbox_bad_policy" in bad.output
