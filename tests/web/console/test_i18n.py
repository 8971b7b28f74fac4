"""Message catalogues: both languages hold the same keys, templates show text only through keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from siyu.web.console import nav
from siyu.web.console.i18n import LOCALES, catalogue, placeholders
from siyu.web.console.render import TEMPLATES_DIR

CONSOLE_DIR = Path(__file__).resolve().parents[3] / "src" / "siyu" / "web" / "console"
KEY_CALL = re.compile(r"""\bt\(\s*["']([a-z0-9_.\-]+)["']\s*[,)]""")
DYNAMIC_CALL = re.compile(r"""\bt(?:\.has)?\(\s*["']([a-z0-9_.\-]+\.)["']\s*~""")
JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.DOTALL)
TAG = re.compile(r"<[^>]*>", re.DOTALL)
TEXT_ATTRS = re.compile(r"""\b(placeholder|title|aria-label|alt)=(["'])(.*?)\2""", re.DOTALL)


def _templates() -> list[Path]:
    return sorted(TEMPLATES_DIR.rglob("*.html"))


def test_both_catalogues_hold_the_same_keys_and_placeholders() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert LOCALES == ("zh-CN", "en")
    assert sorted(set(zh) ^ set(en)) == []
    assert [k for k in zh if placeholders(zh[k]) != placeholders(en[k])] == []
    assert [k for k, v in {**zh, **en}.items() if not v.strip()] == []


def test_every_key_the_templates_and_console_code_use_exists() -> None:
    used: set[str] = set()
    for path in [*_templates(), *CONSOLE_DIR.rglob("*.py")]:
        used |= set(KEY_CALL.findall(path.read_text(encoding="utf-8")))
    used |= {item.key for item in nav.ITEMS} | {f"line.{line}" for line in nav.LINES}
    used |= {f"role.{role}" for role in ("admin", "operator", "analyst", "staff")}
    used |= {f"locale.{code}" for code in LOCALES}
    assert len(used) > 100  # the scan found the calls (an empty set would pass vacuously)
    assert sorted(used - set(catalogue("zh-CN"))) == []


def test_dynamic_key_families_exist() -> None:
    families: set[str] = set()
    for path in _templates():
        families |= set(DYNAMIC_CALL.findall(path.read_text(encoding="utf-8")))
    keys = catalogue("en")
    assert [f for f in sorted(families) if not any(k.startswith(f) for k in keys)] == []


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_templates_hold_no_literal_text(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for _name, _quote, value in TEXT_ATTRS.findall(source):
        assert not re.search(r"[^\W\d_]", JINJA.sub("", value)), f"literal attribute text {value!r}"
    text = TAG.sub(" ", JINJA.sub(" ", source))
    words = re.findall(r"[^\W\d_]{2,}", text)
    assert words == [], f"literal text outside t(): {words[:10]}"
