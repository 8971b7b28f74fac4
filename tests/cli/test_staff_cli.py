"""`siyu staff behavior` stores WeCom contact statistics; `siyu staff response` reads a period back."""

from __future__ import annotations

import json
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import get_settings
from siyu.domains.staff.behavior import stat_time

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("SIYU_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIYU_SECRET_KEY", "cli-test-secret-key-0123456789abcdef0123")
    get_settings.cache_clear()  # settings are read once per process
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    for userid in ("alice", "bob"):
        assert runner.invoke(app, ["staff", "create", userid, userid.title()]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def _day(day: date, chats: int, pct: str | None, minutes: int | None) -> dict:
    found = {"stat_time": stat_time(day, TZ), "chat_cnt": chats, "message_cnt": chats * 3, "new_contact_cnt": 1}
    if pct is not None:
        found["reply_percentage"] = pct
    if minutes is not None:
        found["avg_reply_time"] = minutes
    return found


def test_json_lines_are_stored_and_a_period_weighted_by_chats(cli, tmp_path):
    answers = tmp_path / "behavior.jsonl"
    answers.write_text("\n".join(json.dumps(a) for a in [
        {"userid": "alice", "behavior_data": [_day(date(2026, 11, 1), 10, "100", 2), _day(date(2026, 11, 2), 30, "50", 6)]},
        {"userid": "bob", "errcode": 0, "errmsg": "ok", "behavior_data": [_day(date(2026, 11, 1), 4, None, None)]},
    ]), encoding="utf-8")
    stored = cli.invoke(app, ["staff", "behavior", str(answers)])
    assert stored.exit_code == 0, stored.output
    assert "alice: 2 day(s) stored, 0 replaced" in stored.output and "bob: 1 day(s) stored" in stored.output
    # rate = (100×10 + 50×30) / 40 = 62.5; replied = 10 and 15 chats → (2×10 + 6×15) / 25 = 4.4 minutes
    shown = cli.invoke(app, ["staff", "response", "alice", "--from", "2026-11-01", "--to", "2026-11-02"])
    assert shown.exit_code == 0, shown.output
    assert "alice: 40 chat(s), reply rate 62.5%, average first reply 4.4 min" in shown.output
    again = cli.invoke(app, ["staff", "behavior", str(answers)])
    assert "alice: 2 day(s) stored, 2 replaced" in again.output  # a re-sent day replaces, never adds
    bob = cli.invoke(app, ["staff", "response", "bob", "--from", "2026-11-01", "--to", "2026-11-01"])
    assert "bob: 4 chat(s), reply rate -, average first reply -" in bob.output


def test_one_bad_answer_stores_nothing_and_says_what_is_wrong(cli, tmp_path):
    answers = tmp_path / "behavior.json"
    good = {"userid": "alice", "behavior_data": [_day(date(2026, 11, 1), 10, "100", 2)]}
    noon = {"userid": "bob", "behavior_data": [dict(_day(date(2026, 11, 1), 1, None, None),
                                                    stat_time=stat_time(date(2026, 11, 1), TZ) + 43_200)]}
    answers.write_text(json.dumps([good, noon]), encoding="utf-8")
    refused = cli.invoke(app, ["staff", "behavior", str(answers)])
    assert refused.exit_code == 1 and "invalid_stat_time" in refused.output and "00:00" in refused.output
    nothing = cli.invoke(app, ["staff", "response", "alice", "--from", "2026-11-01", "--to", "2026-11-01"])
    assert "no statistics" in nothing.output  # alice's good answer was not kept either

    answers.write_text(json.dumps({"userid": "alice", "behavior_data": [{"stat_time": 1, "chat_cnt": -1}]}))
    malformed = cli.invoke(app, ["staff", "behavior", str(answers)])
    assert malformed.exit_code == 2 and "behavior_data.0.chat_cnt" in malformed.output
    answers.write_text("{not json")
    assert cli.invoke(app, ["staff", "behavior", str(answers)]).exit_code == 2
    answers.write_text(json.dumps({"userid": "alice", "errcode": 40001, "behavior_data": [_day(date(2026, 11, 1), 1, None, None)]}))
    wecom = cli.invoke(app, ["staff", "behavior", str(answers)])
    assert wecom.exit_code == 2 and "errcode 40001" in wecom.output
    backwards = cli.invoke(app, ["staff", "response", "alice", "--from", "2026-11-02", "--to", "2026-11-01"])
    assert backwards.exit_code == 2
