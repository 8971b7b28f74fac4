"""All SQL of the scores domain: the bulk replacement of customer_scores, run records, and the reads.

The write-back replaces every row in one transaction (DELETE, then COPY on PostgreSQL or one
``executemany`` per batch on SQLite through :func:`siyu.db.bulk.fast_insert`): readers see the old
scores or the new ones, never a mix, and customers merged away since the last run lose their row
without any bookkeeping. An upsert per row would cost several times more at a million customers.

Staff lists join the scores with the customers a staff member follows now (an active follow relation
over any identity of the customer, :func:`siyu.domains.staff.owned_identities_query`), filtered on
the partial indexes of warned and high-intent customers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.orm import Session

from siyu.db.bulk import fast_insert_tuples
from siyu.domains.customers import Customer
from siyu.domains.identity import Identity
from siyu.domains.scores.models import CustomerScore, ScoreRun
from siyu.domains.staff import owned_identities_query

Kind = Literal["at_risk", "high_intent"]


def replace_range(session: Session, names: Sequence[str], rows: Sequence[Sequence[Any]], after: int | None,
                  through: int | None) -> int:
    """Replace the scores of the customers with ids in (``after``, ``through``] (None: unbounded) with ``rows``."""
    query = delete(CustomerScore)
    if after is not None:
        query = query.where(CustomerScore.customer_id > after)
    if through is not None:
        query = query.where(CustomerScore.customer_id <= through)
    session.execute(query.execution_options(synchronize_session=False))
    if rows:
        fast_insert_tuples(session, CustomerScore.__table__, names, rows)
    return len(rows)


def add_run(session: Session, run: ScoreRun) -> ScoreRun:
    """Insert a run record and give it its id."""
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run_id: int, values: dict[str, Any]) -> None:
    """Record how a run ended."""
    session.execute(update(ScoreRun).where(ScoreRun.id == run_id).values(**values)
                    .execution_options(synchronize_session=False))


def latest_run(session: Session, status: str | None = "ok") -> ScoreRun | None:
    """Return the newest run (of ``status``, if given)."""
    query = select(ScoreRun).order_by(ScoreRun.started_at.desc(), ScoreRun.id.desc()).limit(1)
    if status is not None:
        query = query.where(ScoreRun.status == status)
    return session.scalar(query)


def recent_runs(session: Session, limit: int) -> list[ScoreRun]:
    """Return the newest ``limit`` runs."""
    return list(session.scalars(select(ScoreRun).order_by(ScoreRun.started_at.desc(), ScoreRun.id.desc()).limit(limit)))


def live_root(session: Session, customer_id: int) -> int | None:
    """Return the live customer an id stands for (a merged id: its survivor), or None if unknown."""
    return session.scalar(select(func.coalesce(Customer.merged_into_id, Customer.id)).where(Customer.id == customer_id))


def _owned_customers(staff_id: int) -> Any:
    return select(Identity.customer_id).where(Identity.id.in_(owned_identities_query(staff_id)))


def is_followed(session: Session, staff_id: int, customer_id: int) -> bool:
    """Return whether ``staff_id`` follows the customer now (through any of its identities)."""
    query = (select(Identity.id).where(Identity.customer_id == customer_id,
                                       Identity.id.in_(owned_identities_query(staff_id))).limit(1))
    return session.scalar(query) is not None


def get(session: Session, customer_id: int) -> CustomerScore | None:
    """Return a customer's scores."""
    return session.get(CustomerScore, customer_id)


def staff_list(session: Session, staff_id: int, kind: Kind, limit: int) -> list[Row[Any]]:
    """Return (scores, masked name) of the customers ``staff_id`` follows on the list ``kind``, ranked."""
    value = CustomerScore.value_at_stake if kind == "at_risk" else CustomerScore.intent_value
    query = (select(CustomerScore, Customer.name_masked).join(Customer, Customer.id == CustomerScore.customer_id)
             .where(value.is_not(None), CustomerScore.customer_id.in_(_owned_customers(staff_id)))
             .order_by(value.desc(), CustomerScore.customer_id).limit(limit))
    if kind == "high_intent":
        query = query.order_by(None).order_by(value.desc(), CustomerScore.last_signal_at.desc(),
                                              CustomerScore.customer_id)
    return list(session.execute(query))


def staff_counts(session: Session, staff_id: int) -> dict[str, int]:
    """Return how many of ``staff_id``'s customers are at risk and of high intent."""
    owned = CustomerScore.customer_id.in_(_owned_customers(staff_id))
    at_risk = session.scalar(select(func.count()).where(CustomerScore.value_at_stake.is_not(None), owned))
    intent = session.scalar(select(func.count()).where(CustomerScore.intent_value.is_not(None), owned))
    return {"at_risk": int(at_risk or 0), "high_intent": int(intent or 0)}
