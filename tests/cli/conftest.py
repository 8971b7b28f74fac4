"""The CLI tests' store: a migrated SQLite file of the test's own, reached through SIYU_* as a user would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import get_settings

CLI_SECRET = "cli-test-secret-key-0123456789abcdef0123"


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, str]]:
    """Point SIYU_* at a fresh store in ``tmp_path``, migrate it with `siyu db upgrade`; yield (runner, url)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIYU_DATABASE_URL", url)
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIYU_SECRET_KEY", CLI_SECRET)
    get_settings.cache_clear()
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    yield runner, url
    get_settings.cache_clear()
