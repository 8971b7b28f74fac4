"""The review queue over HTTP: newest first, keyset pages that end exactly."""

from __future__ import annotations

from factories import ANALYST, as_principal
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access import SYSTEM
from siyu.domains.identity import service as identity
from siyu.web.app import create_app


def _queue(engine: Engine, count: int) -> None:
    with unit_of_work(engine) as s:
        identity.record_junk(s, [row for n in range(count)
                                 for row in identity.junk_issue_rows([("phone", "138****0000")], "event", f"e{n}")])


def _pages(client, limit: int) -> list[list[str]]:  # type: ignore[no-untyped-def]
    pages, before = [], None
    while True:
        body = client.get("/api/v1/identity-issues", params={"limit": limit, **({"before": before} if before else {})})
        assert body.status_code == 200, body.text
        pages.append([i["cause"]["ref"] for i in body.json()["items"]])
        before = body.json()["next_cursor"]
        if before is None:
            return pages


def test_pages_end_without_an_empty_last_page(settings: Settings, db_engine: Engine) -> None:
    _queue(db_engine, 4)
    client = as_principal(create_app(settings, db_engine), SYSTEM)
    assert _pages(client, 2) == [["e3", "e2"], ["e1", "e0"]]
    assert _pages(client, 3) == [["e3", "e2", "e1"], ["e0"]]
    assert _pages(client, 4) == [["e3", "e2", "e1", "e0"]]
    assert as_principal(create_app(settings, db_engine), ANALYST).get("/api/v1/identity-issues").status_code == 403
