"""``siyu staff`` and ``siyu channel-code`` against a real database file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import get_settings
from siyu.db.engine import make_engine
from siyu.db.migrate import upgrade

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_SECRET_KEY", "cli-test-secret-key-0123456789abcdef")
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_staff_commands(cli_db: str) -> None:
    assert run("staff", "create", "a", "Alice", "--store", "上海店")[0] == 0
    assert run("staff", "create", "b", "Bob")[0] == 0
    code, out = run("staff", "create", "a", "Again")
    assert code == 1 and "staff_exists" in out
    code, out = run("staff", "list", "--store", "上海店")
    assert code == 0 and out.split("\t")[1:3] == ["a", "Alice"]
    code, out = run("staff", "transfer", "a", "b")
    assert code == 2 and "--identity" in out
    code, out = run("staff", "transfer", "a", "b", "--all")
    assert code == 1 and "nothing_to_transfer" in out  # a follows no one: nothing to hand over
    code, out = run("staff", "depart", "a", "--inherit-to", "b")
    assert code == 0 and "a departed" in out and "inherited by b" in out
    code, out = run("staff", "list", "--status", "departed")
    assert out.strip().endswith("departed")


def test_channel_code_commands(cli_db: str) -> None:
    run("staff", "create", "a", "Alice")
    run("staff", "create", "b", "Bob")
    code, out = run("channel-code", "create", "--name", "门店海报", "--platform", "store", "--pool", "a",
                    "--pool", "b:3:20", "--strategy", "weighted", "--state", "store-1", "--tag", "门店",
                    "--hours", '{"mon": [["09:00", "18:00"]]}', "--backup", "b")
    assert code == 0, out
    assert "state:    store-1" in out and "b(w3, cap 20)" in out
    code, out = run("channel-code", "create", "--name", "x", "--platform", "store", "--pool", "a",
                    "--state", "store-1")
    assert code == 1 and "duplicate_state" in out
    code, out = run("channel-code", "create", "--name", "x", "--platform", "store", "--pool", "a:x")
    assert code == 2
    code, out = run("channel-code", "list")
    assert code == 0 and "store-1\tstore\tweighted\t2\t门店海报" in out
    code, out = run("channel-code", "show", "store-1", "--days", "3")
    assert code == 0 and "last 3 days: +0 / -0" in out
    assert run("channel-code", "show", "999")[0] == 1
