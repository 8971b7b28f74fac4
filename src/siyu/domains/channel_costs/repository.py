"""SQL of channel costs."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.domains.channel_costs.models import ChannelCost


def add(session: Session, row: ChannelCost) -> ChannelCost:
    """Insert a cost row and give it its id."""
    session.add(row)
    session.flush()
    return row


def get(session: Session, cost_id: int) -> ChannelCost | None:
    """Return the cost row ``cost_id``, or None."""
    return session.get(ChannelCost, cost_id)


def delete(session: Session, row: ChannelCost) -> None:
    """Delete a cost row."""
    session.delete(row)
    session.flush()


def overlapping(session: Session, first: date | None, last: date | None, code_id: int | None) -> list[ChannelCost]:
    """Return the cost rows covering at least one day of ``first`` … ``last`` (either open), by code and day."""
    query = select(ChannelCost)
    if first is not None:
        query = query.where(ChannelCost.last_day >= first)
    if last is not None:
        query = query.where(ChannelCost.first_day <= last)
    if code_id is not None:
        query = query.where(ChannelCost.channel_code_id == code_id)
    return list(session.scalars(query.order_by(ChannelCost.channel_code_id, ChannelCost.first_day, ChannelCost.id)))
