"""`siyu channel-code` prints the QR link and writes the printed QR as a file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import get_settings
from siyu.kit.qr import qr_image


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("SIYU_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIYU_SECRET_KEY", "cli-test-secret-key-0123456789abcdef0123")
    monkeypatch.setenv("SIYU_PUBLIC_URL", "https://scrm.example.com/")
    get_settings.cache_clear()  # settings are read once per process
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["staff", "create", "alice", "Alice"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def test_create_with_a_landing_url_and_write_the_qr(cli, tmp_path):
    made = cli.invoke(app, ["channel-code", "create", "--name", "包裹卡", "--platform", "parcel", "--pool", "alice",
                            "--state", "parcel-7", "--landing-url", "https://work.weixin.qq.com/ca/x1"])
    assert made.exit_code == 0, made.output
    assert "QR link:  https://scrm.example.com/c/parcel-7 -> https://work.weixin.qq.com/ca/x1" in made.output
    out = tmp_path / "code.svg"
    wrote = cli.invoke(app, ["channel-code", "qr", "parcel-7", "-o", str(out)])
    assert wrote.exit_code == 0, wrote.output
    assert out.read_bytes() == qr_image("https://scrm.example.com/c/parcel-7", "svg")
    refused = cli.invoke(app, ["channel-code", "qr", "parcel-7", "-o", str(tmp_path / "code.gif")])
    assert refused.exit_code == 2 and ".png or .svg" in refused.output
