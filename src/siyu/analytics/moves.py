"""The customers list's ``entered`` and ``lost`` filters, read from the summaries' moves.

:class:`HealthMoves` implements the customers domain's port
(:class:`siyu.domains.customers.activity.MovesIndex`); the app wires it at start-up. A list asked
for entered or lost customers first brings the summaries up to date, as the dashboard does, so a
figure and the list it links to count the same customers.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from siyu.analytics.models import HealthMove
from siyu.analytics.refresh import refresh_if_stale

KINDS = {"entered": "in", "lost": "out"}


class HealthMoves:
    """Who entered or was lost from the private domain on which days, from ``health_moves``."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def customers(self, kind: str, first: date, last: date, customer: Any | None) -> Select[Any]:
        """Return the ids of customers with a move of ``kind`` on days [first, last] (only ``customer`` if given)."""
        query = select(HealthMove.customer_id).where(HealthMove.kind == KINDS[kind], HealthMove.day >= first,
                                                     HealthMove.day <= last)
        return query if customer is None else query.where(HealthMove.customer_id == customer)

    def ensure_fresh(self, session: Session) -> None:
        """Bring the summaries up to date (a writer transaction of its own) when facts were stored since."""
        refresh_if_stale(session, self.tz)
