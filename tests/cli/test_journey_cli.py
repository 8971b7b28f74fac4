"""`siyu journey`: templates, validate (bad input exits 2 naming the step), create, publish, enrol, tick, counts, trace."""

from __future__ import annotations

import json

import pytest
from factories import make_customer

from siyu.cli.main import app
from siyu.db.engine import make_engine, unit_of_work
from siyu.kit.crypto import PiiVault

SECRET = "cli-test-secret-key-0123456789abcdef0123"
DEFINITION = {"trigger": {"type": "manual"}, "steps": [
    {"id": "hi", "type": "send_message", "channel": "wecom", "content": {"text": "你好"}, "next": "wait"},
    {"id": "wait", "type": "wait", "duration": {"days": 1}}]}


@pytest.fixture
def cli(cli_store):
    runner, url = cli_store
    engine = make_engine(url)
    with unit_of_work(engine) as s:
        ids = [make_customer(s, PiiVault(SECRET)).id for _ in range(2)]
    engine.dispose()
    yield runner, ids


def test_journey_commands(cli, tmp_path) -> None:
    runner, ids = cli
    listed = runner.invoke(app, ["journey", "templates"])
    assert listed.exit_code == 0 and "group_onboarding_7d" in listed.output
    shown = runner.invoke(app, ["journey", "templates", "--show", "birthday"])
    assert json.loads(shown.output)["trigger"] == {"type": "date", "date": "birthday"}
    path = tmp_path / "j.json"
    path.write_text(json.dumps(DEFINITION), encoding="utf-8")
    assert "valid: 2 steps" in runner.invoke(app, ["journey", "validate", f"@{path}"]).output
    made = runner.invoke(app, ["journey", "create", "问候", "--definition", f"@{path}", "--publish"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(app, ["journey", "enrol", "问候", *map(str, ids)]).output.strip() == "2 entered"
    assert runner.invoke(app, ["journey", "tick"]).output.strip().endswith("0 enrolled, 2 steps run, 0 exited")
    counts = json.loads(runner.invoke(app, ["journey", "counts", "问候", "--format", "json"]).output)
    assert [(c["step"], c["done"], c["waiting"]) for c in counts] == [("hi", 2, 0), ("wait", 0, 2)]
    trace = runner.invoke(app, ["journey", "trace", str(ids[0])]).output
    assert "hi (send_message): send_message done" in trace and "now at wait" in trace
    listing = runner.invoke(app, ["journey", "list", "--format", "json"]).output
    assert json.loads(listing)[0]["active"] == 2


def test_bad_definition_exits_2_naming_each_step(cli) -> None:
    runner, _ = cli
    bad = {"trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "add_tag", "tag": "x", "next": "zz"},
                                                   {"id": "b", "type": "wait", "duration": {"days": 0}}]}
    result = runner.invoke(app, ["journey", "validate", json.dumps(bad)])
    assert result.exit_code == 2
    assert "error [invalid_journey]" in result.output
    assert "$.steps[1].duration (step b)" in result.output
