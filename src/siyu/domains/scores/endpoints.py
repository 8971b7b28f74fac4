"""HTTP: the stored scores of a customer, a staff member's work lists, and how fresh the scores are.

Staff users see their own customers' scores and their own lists only (docs/clv.md); the write-back
itself is ``POST /api/v1/analytics/scores`` (it runs the analyses).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_reader
from siyu.domains.scores import service
from siyu.domains.scores.schemas import AttentionOut, RunOut, RunsOut, ScoreOut, attention_out
from siyu.errors import NotFound

router = APIRouter(prefix="/scores", tags=["scores"])


@router.get("/runs", response_model=RunsOut)
def runs(limit: int = Query(20, ge=1, le=200), session: Session = Depends(get_session, scope="function"),
         _principal: Principal = Depends(require_reader)) -> RunsOut:
    """Return the newest successful write-back (how fresh the scores are) and the newest runs."""
    latest = service.latest_run(session)
    return RunsOut(latest_ok=RunOut.model_validate(latest) if latest else None,
                   runs=[RunOut.model_validate(r) for r in service.recent_runs(session, limit)])


@router.get("/customers/{customer_id}", response_model=ScoreOut)
def customer_scores(customer_id: int, session: Session = Depends(get_session, scope="function"),
                    principal: Principal = Depends(require_reader)) -> ScoreOut:
    """Return a customer's stored scores (a merged id answers for its survivor)."""
    score = service.customer_scores(session, principal, customer_id)
    if score is None:
        raise NotFound(f"customer {customer_id} has no scores yet: run `siyu analyze scores` or wait for the "
                       "scheduled write-back", code="scores_not_computed")
    return ScoreOut.model_validate(score)


@router.get("/attention", response_model=AttentionOut)
def attention(staff: str | None = Query(None, description="The staff member's WeCom userid (staff users: their own, "
                                                           "the default)."),
              kind: str = Query("at_risk", description="at_risk (by value at stake) or high_intent (by intent value)."),
              limit: int = Query(50, description="How many customers (1–500)."),
              session: Session = Depends(get_session, scope="function"),
              principal: Principal = Depends(require_reader)) -> AttentionOut:
    """Return a staff member's customers to act on today, ranked where their time pays most."""
    return attention_out(service.attention(session, principal, staff, kind, limit))
