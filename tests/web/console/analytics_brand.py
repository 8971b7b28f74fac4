"""A brand for the analysis pages' tests: 40 buyers over a year, events for AIPL, joins for retention.

Buyers pay 1–6 orders on days spread over 2025-01 … 2026-01 (amounts vary so the RFM scores
spread), some view and click content, one invites a friend; every fact is at noon in Shanghai so no
day boundary is in question here (the engine's own tests cover those).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from factories import make_customer, make_event, make_identity, make_order
from sqlalchemy import Engine

from siyu.analytics.engines import open_facts
from siyu.db.engine import unit_of_work
from siyu.kit.time import UTC

AS_OF = date(2026, 1, 31)
EARLIER = date(2025, 10, 31)
BUYERS = 40


def noon(day: date) -> datetime:
    """Return noon of a Shanghai day, in UTC."""
    return datetime.combine(day, time(12), tzinfo=UTC) - timedelta(hours=8)


def build(engine: Engine, vault: Any) -> None:
    """Insert the buyers, their orders and events."""
    with unit_of_work(engine) as s:
        for n in range(BUYERS):
            first = date(2025, 1, 5) + timedelta(days=(n * 37) % 380)
            customer = make_customer(s, vault, name=f"买家{n}", first_seen_at=noon(first - timedelta(days=n % 9)))
            ident = make_identity(s, vault, customer.id, "openid:wxmini", f"oAn{n:04d}")
            for k in range(1 + n % 6):
                day = first + timedelta(days=k * (11 + n % 23))
                if day <= AS_OF:
                    make_order(s, ident, 1_000 + (n * 997) % 90_000, placed_at=noon(day), order_id=f"AN-{n}-{k}")
            for k in range(n % 4):
                make_event(s, ident, "content_viewed" if k % 2 == 0 else "content_clicked",
                           occurred_at=noon(AS_OF - timedelta(days=3 * n + k)))
            if n % 10 == 3:
                make_event(s, ident, "invited", occurred_at=noon(AS_OF - timedelta(days=n)))


def service(engine: Engine, settings: Any, run: Any) -> Any:
    """Return ``run(facts)`` on the store's facts (the service the page must agree with)."""
    facts = open_facts(engine, settings.data_dir)
    try:
        return run(facts)
    finally:
        facts.close()


@pytest.fixture
def buyers(brand: Any, db_engine: Engine, vault: Any, app: Any) -> None:
    """Add the buyers to the console's test brand; pages wait for the mirror's sync (a loaded machine is slow)."""
    build(db_engine, vault)
    app.state.analytics_sync_wait = 300
