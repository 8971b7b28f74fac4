"""Scores: replace them in bulk, record runs, and read them with the caller's visibility (never commits).

A staff user sees the scores of the customers they follow and only their own work lists; everyone
else may read any customer's scores and any staff member's lists. A customer the caller may not see
is "not found", as in the customers domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.scores import repository as repo
from siyu.domains.scores.models import CustomerScore, ScoreRun
from siyu.domains.scores.repository import Kind
from siyu.domains.staff import staff_by_ids, staff_by_userids
from siyu.errors import Forbidden, NotFound, ValidationFailed

KINDS = ("at_risk", "high_intent")
MAX_LIST = 500


def start_run(session: Session, as_of: date, trigger: str, now: datetime) -> int:
    """Record a write-back as running and return its id."""
    return repo.add_run(session, ScoreRun(as_of=as_of, trigger=trigger, status="running", started_at=now,
                                          customers=0, detail={})).id


def finish_run(session: Session, run_id: int, *, status: str, now: datetime, seconds: float, engine: str | None = None,
               customers: int = 0, detail: dict[str, Any] | None = None, error: str | None = None) -> None:
    """Record how a write-back ended (``ok`` or ``failed``)."""
    repo.finish_run(session, run_id, {"status": status, "finished_at": now, "seconds": round(seconds, 3),
                                      "engine": engine, "customers": customers, "detail": detail or {},
                                      "error": None if error is None else error[:500]})


def replace_scores(session: Session, names: Sequence[str], rows: Sequence[Sequence[Any]], *, after: int | None,
                   through: int | None) -> int:
    """Replace the scores of customers with ids in (``after``, ``through``] with ``rows``; return how many written."""
    return repo.replace_range(session, names, rows, after, through)


def latest_run(session: Session, status: str | None = "ok") -> ScoreRun | None:
    """Return the newest run (successful by default): when the scores were last computed, as of which day."""
    return repo.latest_run(session, status)


def recent_runs(session: Session, limit: int = 20) -> list[ScoreRun]:
    """Return the newest runs, of any status."""
    return repo.recent_runs(session, max(1, min(limit, 200)))


def customer_scores(session: Session, principal: Principal, customer_id: int) -> CustomerScore | None:
    """Return the scores of a customer the caller may see (a merged id reads its survivor's); None if unscored."""
    root = repo.live_root(session, customer_id)
    scope = principal.scoped_staff_id
    if root is None or (scope is not None and not repo.is_followed(session, scope, root)):
        raise NotFound(f"customer {customer_id} not found", code="customer_not_found")
    return repo.get(session, root)


@dataclass(frozen=True)
class StaffRef:
    """The staff member a list belongs to."""

    id: int
    userid: str
    name: str


@dataclass(frozen=True)
class AttentionList:
    """A staff member's ranked list of one kind, with its size and the run it comes from."""

    staff: StaffRef
    kind: str
    total: int
    rows: list[tuple[CustomerScore, str | None]]
    run: ScoreRun | None


def resolve_staff(session: Session, principal: Principal, staff_userid: str | None) -> StaffRef:
    """Return whose list to read: a staff user's own (another's is refused), or the named staff member."""
    scope = principal.scoped_staff_id
    if scope is not None:
        own = staff_by_ids(session, [scope])[scope]
        if staff_userid and staff_userid.strip() != own.userid:
            raise Forbidden("staff users see only their own customers' lists", code="forbidden_staff")
        return StaffRef(own.id, own.userid, own.name)
    if not staff_userid or not staff_userid.strip():
        raise ValidationFailed("name the staff member (their WeCom userid) whose list to show", code="staff_required")
    found = staff_by_userids(session, [staff_userid.strip()])
    if not found:
        raise NotFound(f"no staff member has userid {staff_userid!r}", code="staff_not_found")
    staff = next(iter(found.values()))
    return StaffRef(staff.id, staff.userid, staff.name)


def attention(session: Session, principal: Principal, staff_userid: str | None, kind: str,
              limit: int = 50) -> AttentionList:
    """Return a staff member's at-risk or high-intent customers, ranked (docs/clv.md)."""
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", code="invalid_kind")
    if not 1 <= limit <= MAX_LIST:
        raise ValidationFailed(f"limit must be 1–{MAX_LIST}, got {limit}", code="invalid_limit")
    staff = resolve_staff(session, principal, staff_userid)
    list_kind: Kind = "at_risk" if kind == "at_risk" else "high_intent"
    rows = [(row[0], row[1]) for row in repo.staff_list(session, staff.id, list_kind, limit)]
    total = repo.staff_counts(session, staff.id)[kind]
    return AttentionList(staff, kind, total, rows, repo.latest_run(session))
