"""Today's customers in the console: staff see their own lists, others pick a staff member; the customer page shows scores."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from factories import at
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.scores import service as scores
from siyu.kit.time import utcnow

from .conftest import Brand


def _row(cid: int, **values: Any) -> dict[str, Any]:
    base = {"customer_id": cid, "as_of": at(0), "computed_at": at(1), "rfm_r": None, "rfm_f": None, "rfm_m": None,
            "rfm_segment": None, "aipl_stage": None, "lifecycle_tier": None, "clv": None, "expected_purchases": None,
            "p_alive": None, "expected_spend": None, "repeat_purchases": None, "days_since_last": None,
            "usual_gap_days": None, "p_alive_prev": None, "alive_falling": False, "overdue": False,
            "value_at_stake": None, "intent_days": 0, "open_order": False, "last_signal_at": None, "intent_value": None}
    return {**base, **values}


@pytest.fixture
def scored(db_engine: Engine, brand: Brand) -> Brand:
    with unit_of_work(db_engine) as s:
        rows = [
            _row(brand.zhang, rfm_r=5, rfm_f=4, rfm_m=3, rfm_segment="important_value", lifecycle_tier="loyal",
                 clv="812.40", p_alive=0.41, p_alive_prev=0.93, expected_purchases=3.2, expected_spend="199.00",
                 repeat_purchases=4, days_since_last=90, usual_gap_days=20.0, alive_falling=True, overdue=True,
                 value_at_stake="422.45"),
            _row(brand.xss, intent_days=2, open_order=True, last_signal_at=at(30), intent_value="995.00"),
            _row(brand.li, intent_days=1, intent_value="50.00"),
        ]
        scores.replace_scores(s, list(rows[0]), [tuple(r.values()) for r in rows], after=None, through=None)
        run = scores.start_run(s, date(2026, 6, 30), "cli", utcnow())
        scores.finish_run(s, run, status="ok", now=utcnow(), seconds=1.0, customers=3)
    return brand


def test_a_staff_user_sees_only_their_own_lists(console, scored: Brand) -> None:
    page = console("alice_u").page("/attention")
    assert page.status_code == 200, page.text
    at_risk = page.text.split('data-testid="attention-at_risk"')[1].split("</section>")[0]
    intent = page.text.split('data-testid="attention-high_intent"')[1].split("</section>")[0]
    assert f'data-customer-id="{scored.zhang}"' in at_risk and "¥422.45" in at_risk and "93% → 41%" in at_risk
    assert f'data-customer-id="{scored.xss}"' in intent and "<script>" not in intent  # names are escaped
    assert f'data-customer-id="{scored.li}"' not in page.text  # bob's customer
    assert "2026-06-30" in page.text
    other = console("alice_u").page("/attention?staff=bob")
    assert other.status_code == 403


def test_an_operator_picks_a_staff_member_and_unknown_ones_are_refused(console, scored: Brand) -> None:
    ops = console("ops")
    assert 'name="staff"' in ops.page("/attention").text
    bob = ops.page("/attention?staff=bob")
    assert bob.status_code == 200 and f'data-customer-id="{scored.li}"' in bob.text
    unknown = ops.page("/attention?staff=nobody")
    assert unknown.status_code == 422 and 'data-field="staff"' in unknown.text


def test_the_sidebar_list_and_the_customer_page(console, scored: Brand) -> None:
    alice = console("alice_u")
    side = alice.page("/sidebar/attention")
    assert side.status_code == 200 and f'data-customer-id="{scored.xss}"' in side.text
    detail = console("admin").page(f"/customers/{scored.zhang}")
    card = detail.text.split('data-testid="scores"')[1].split("</section>")[0]
    assert "¥812.40" in card and "41%" in card and 'data-testid="churn-warning"' in card and "¥422.45" in card
    assert console("ops").page("/sidebar/attention").status_code == 403  # the sidebar is for staff users
