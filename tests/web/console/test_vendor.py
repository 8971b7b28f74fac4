"""Vendored front-end libraries are present with their licences, at the versions the README names."""

from __future__ import annotations

import re
from pathlib import Path

import siyu.web

VENDOR = Path(siyu.web.__file__).parent / "static" / "vendor"


def _readme_version(package: str) -> str:
    text = (VENDOR / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"\| `{re.escape(package)}` \| ([0-9.]+) \|", text)
    assert match, f"{package} missing from the vendor README"
    return match.group(1)


def test_htmx_is_vendored_with_its_licence_at_the_documented_version() -> None:
    script = (VENDOR / "htmx" / "htmx.min.js").read_text(encoding="utf-8")
    assert f'version:"{_readme_version("htmx.org")}"' in script
    assert "Zero-Clause BSD" in (VENDOR / "htmx" / "LICENSE").read_text(encoding="utf-8")


def test_echarts_is_vendored_with_its_licence_at_the_documented_version() -> None:
    script = (VENDOR / "echarts" / "echarts.min.js").read_text(encoding="utf-8")
    assert f'version="{_readme_version("echarts")}"' in script
    assert "Apache License" in (VENDOR / "echarts" / "LICENSE").read_text(encoding="utf-8")
    assert (VENDOR / "echarts" / "NOTICE").is_file()
