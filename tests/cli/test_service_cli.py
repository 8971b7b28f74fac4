"""`siyu service`: rules, try-it, FAQ, staff settings, the SLA report and a processing run from the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app


@pytest.fixture
def cli(cli_store):
    runner, _url = cli_store
    for userid in ("alice", "bob"):
        assert runner.invoke(app, ["staff", "create", userid, userid.title()]).exit_code == 0
    yield runner


def test_rules_faq_and_try_it(cli: CliRunner) -> None:
    made = cli.invoke(app, ["service", "rules", "add", "菜单", "exact", "请选择：", "-p", "帮助",
                            "--option", "1=物流=请看订单页", "--priority", "3"])
    assert made.exit_code == 0, made.output
    assert cli.invoke(app, ["service", "faq", "add", "多久发货？", "48小时内", "--alt", "什么时候发货"]).exit_code == 0
    listed = cli.invoke(app, ["service", "rules", "list"]).output
    assert listed.split("\t")[:5] == ["1", "3", "exact", "on", "菜单"]
    rule = json.loads(cli.invoke(app, ["service", "test", "帮助"]).output)
    assert (rule["kind"], rule["reply"]) == ("rule", "请选择：\n1. 物流")
    option = json.loads(cli.invoke(app, ["service", "test", "1", "--menu", "1"]).output)
    assert (option["kind"], option["reply"]) == ("menu_option", "请看订单页")
    asked = cli.invoke(app, ["service", "faq", "ask", "请问什么时候能发货"]).output
    assert "answered" in asked.splitlines()[0] and "\t多久发货？\t" in asked


def test_bad_input_exits_with_the_code(cli: CliRunner) -> None:
    bad = cli.invoke(app, ["service", "rules", "add", "x", "regex", "r", "-p", "订单[0-9"])
    assert bad.exit_code == 1
    assert "error [invalid_regex]: pattern 0 is not a valid regular expression: unterminated character set " \
           "at position 2" in bad.output
    unknown = cli.invoke(app, ["service", "staff", "nobody", "--sla-minutes", "10"])
    assert unknown.exit_code == 1 and "error [unknown_staff]" in unknown.output


def test_staff_settings_sla_report_and_run(cli: CliRunner) -> None:
    done = cli.invoke(app, ["service", "staff", "alice", "--sla-minutes", "20", "--hours",
                            '{"mon": [["09:00", "18:00"]]}', "--supervisor", "bob"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith('alice: 20 min, hours {"mon": [["09:00", "18:00"]]}')
    report = json.loads(cli.invoke(app, ["service", "sla", "--day", "2026-01-05", "--json"]).output)
    assert report == {"day": "2026-01-05", "rows": []}
    assert cli.invoke(app, ["service", "run"]).output.startswith("messages handled: 0")


def test_synonyms(cli: CliRunner) -> None:
    assert cli.invoke(app, ["service", "synonyms", "add", "退款", "退钱"]).output == "synonyms 1 created\n"
    assert cli.invoke(app, ["service", "synonyms", "list"]).output == "1\t退款 / 退钱\n"
    assert cli.invoke(app, ["service", "synonyms", "add", "退款"]).exit_code == 1
    assert cli.invoke(app, ["service", "synonyms", "delete", "1"]).exit_code == 0
