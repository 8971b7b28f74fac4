"""`siyu segment` and `siyu tag`: create, preview, list in three formats, refresh, members, tags; bad input exits 2."""

from __future__ import annotations

import csv
import io
import json

import pytest
from domains.segments.brand import build
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.db.engine import make_engine, unit_of_work
from siyu.kit.crypto import PiiVault

SECRET = "cli-test-secret-key-0123456789abcdef0123"
RULE = '{"attribute": "city", "op": "eq", "value": "上海"}'


@pytest.fixture
def cli(cli_store):
    runner, url = cli_store
    engine = make_engine(url)
    with unit_of_work(engine) as s:
        build(s, PiiVault(SECRET))
    engine.dispose()
    yield runner


def test_segment_commands(cli: CliRunner, tmp_path) -> None:
    preview = cli.invoke(app, ["segment", "preview", "--rule", RULE, "--format", "json", "--sample", "2"])
    assert preview.exit_code == 0, preview.output
    count = json.loads(preview.output)["count"]
    assert count > 0 and len(json.loads(preview.output)["sample"]) == 2
    (tmp_path / "rule.json").write_text(RULE, encoding="utf-8")
    made = cli.invoke(app, ["segment", "create", "--name", "上海客户", "--rule", f"@{tmp_path / 'rule.json'}"])
    assert made.exit_code == 0 and f"{count} customers" in made.output
    listed = cli.invoke(app, ["segment", "list", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(listed.output)))
    assert [(r["name"], r["members"]) for r in rows][1] == ("上海客户", str(count))
    assert "上海客户" in cli.invoke(app, ["segment", "list"]).output
    members = cli.invoke(app, ["segment", "members", "上海客户", "--all", "--format", "json"])
    assert len(json.loads(members.output)) == count
    assert cli.invoke(app, ["segment", "refresh", "上海客户"]).output.strip() == "0 entered, 0 exited"
    assert cli.invoke(app, ["segment", "refresh", "--full"]).exit_code == 0
    assert "nothing new" in cli.invoke(app, ["segment", "refresh"]).output
    shown = cli.invoke(app, ["segment", "show", "2", "--format", "json"])
    assert json.loads(shown.output)[0]["rule"] == json.loads(RULE)
    history = cli.invoke(app, ["segment", "history", "2", "--format", "csv"])
    assert len(list(csv.DictReader(io.StringIO(history.output)))) == count


def test_bad_input_exits_2_with_every_path(cli: CliRunner) -> None:
    bad = cli.invoke(app, ["segment", "preview", "--rule", '{"all": [{"attribute": "shoe"}, {"tag": ""}]}'])
    assert bad.exit_code == 2
    assert "error [invalid_rule]: $.all[0].op: this field is required" in bad.output and "  $.all[1].tag:" in bad.output
    assert cli.invoke(app, ["segment", "preview", "--rule", "{not json"]).exit_code == 2
    assert cli.invoke(app, ["segment", "show", "nope"]).exit_code == 2
    assert cli.invoke(app, ["tag", "apply", "VIP"]).exit_code == 2


def test_tag_commands(cli: CliRunner) -> None:
    assert cli.invoke(app, ["tag", "group-create", "等级", "--exclusive"]).exit_code == 0
    assert cli.invoke(app, ["tag", "create", "金卡", "--group", "等级"]).exit_code == 0
    made = cli.invoke(app, ["tag", "rule", "沪客", "--rule", RULE, "--group", "地区"])
    assert made.exit_code == 0, made.output
    assert cli.invoke(app, ["segment", "create", "--name", "sh", "--rule", RULE]).exit_code == 0
    tagged = cli.invoke(app, ["tag", "apply", "金卡", "--segment", "sh"])
    assert tagged.exit_code == 0, tagged.output
    listed = {r["name"]: r for r in json.loads(cli.invoke(app, ["tag", "list", "--format", "json"]).output)}
    assert listed["金卡"]["holders"] == listed["沪客"]["holders"] > 0 and listed["沪客"]["kind"] == "rule"
    assert json.loads(cli.invoke(app, ["tag", "groups", "--format", "json"]).output)[1:] != []
    history = cli.invoke(app, ["tag", "history", "沪客", "--format", "json"])
    assert all(h["source"] == "rule" for h in json.loads(history.output))
    refreshed = cli.invoke(app, ["tag", "interests", "--half-life", "14"])
    assert refreshed.exit_code == 0 and "customers scored" in refreshed.output
