"""All SQL of the customers domain: profile writes, source attribution and scoped reads.

Staff scoping lives here, not in services or endpoints: every read of a customer takes
``staff_scope`` (the caller's :attr:`Principal.scoped_staff_id`) as a required keyword and adds
the visibility predicate itself, so no caller can forget it. A scoped caller asking for a customer
it does not follow gets the same "not found" as for an id that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.domains.customers.models import Customer


def live_root_id(session: Session, customer_id: int) -> int | None:
    """Return the live customer a (possibly merged) id stands for, or None if the id is unknown."""
    return session.scalar(select(func.coalesce(Customer.merged_into_id, Customer.id)).where(Customer.id == customer_id))


def set_source_if_empty(session: Session, customer_id: int, channel_code_id: int | None,
                        platform: str | None, now: datetime) -> bool:
    """Record the source on a customer that has none yet; return whether a row changed."""
    result = session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.source_platform.is_(None),
               Customer.source_channel_code_id.is_(None))
        .values(source_channel_code_id=channel_code_id, source_platform=platform, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def update_fields(session: Session, customer_id: int, values: dict[str, Any]) -> None:
    """Write profile columns of one customer."""
    session.execute(update(Customer).where(Customer.id == customer_id).values(**values)
                    .execution_options(synchronize_session=False))
