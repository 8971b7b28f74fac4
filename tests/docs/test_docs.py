"""Docs stay true to the code: every standard event type is documented."""

from __future__ import annotations

from pathlib import Path

from siyu.domains.events.catalogue import STANDARD

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_standard_event_type_is_documented():
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    missing = [t for t in STANDARD if f"`{t}`" not in text]
    assert missing == []
