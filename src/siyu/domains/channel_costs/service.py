"""Channel costs: enter, list and delete what each channel code cost, and a period's share of it.

A cost covers whole brand days; a period that covers part of them gets the part in proportion to the
days (rounded half-up to the fen), so costs entered per month can be read for any period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from siyu.domains.access import audit
from siyu.domains.channel_codes.service import code_names
from siyu.domains.channel_costs import repository as repo
from siyu.domains.channel_costs.models import ChannelCost
from siyu.errors import NotFound, ValidationFailed
from siyu.kit.money import from_fen, to_fen
from siyu.kit.time import utcnow

MAX_DAYS = 366


class InvalidCost(ValidationFailed):
    """A cost entry that cannot be stored; ``field`` names what to fix."""

    code = "invalid_channel_cost"


@dataclass(frozen=True)
class CostView:
    """A stored cost as the faces show it (amount in yuan)."""

    id: int
    channel_code_id: int
    channel_code: str
    first_day: date
    last_day: date
    amount: Decimal
    note: str | None
    created_by: str


def _view(row: ChannelCost, names: dict[int, str]) -> CostView:
    return CostView(row.id, row.channel_code_id, names.get(row.channel_code_id, str(row.channel_code_id)), row.first_day,
                    row.last_day, from_fen(row.amount_fen), row.note, row.created_by)


def add_cost(session: Session, *, channel_code_id: int, first_day: date, last_day: date, amount: object,
             note: str | None = None, actor: str, today: date) -> CostView:
    """Record what a channel code cost over some days; raise InvalidCost naming the field to fix."""
    names = code_names(session, [channel_code_id])
    if channel_code_id not in names:
        raise InvalidCost(f"no channel code {channel_code_id}", code="channel_code_not_found", field="channel_code_id")
    try:
        fen = to_fen(amount)
    except ValueError as exc:
        raise InvalidCost(f"amount: {exc}", field="amount") from exc
    if fen <= 0:
        raise InvalidCost("amount must be above zero, in yuan such as \"1200.00\"", field="amount")
    if first_day > last_day:
        raise InvalidCost(f"first_day {first_day} is after last_day {last_day}", field="last_day")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidCost(f"a cost covers at most {MAX_DAYS} days; enter longer spends per year", field="last_day")
    if first_day > today:
        raise InvalidCost(f"first_day {first_day} is in the future (today is {today})", field="first_day")
    if note is not None and len(note) > 200:
        raise InvalidCost("note is at most 200 characters", field="note")
    row = repo.add(session, ChannelCost(channel_code_id=channel_code_id, first_day=first_day, last_day=last_day,
                                        amount_fen=fen, note=note or None, created_by=actor, created_at=utcnow()))
    audit(session, actor, "channel_cost.add", "channel_cost", row.id,
          {"channel_code_id": channel_code_id, "first_day": first_day.isoformat(), "last_day": last_day.isoformat(),
           "amount_fen": fen})
    return _view(row, names)


def list_costs(session: Session, *, first: date | None = None, last: date | None = None,
               channel_code_id: int | None = None) -> list[CostView]:
    """Return the costs covering at least a day of ``first`` … ``last`` (either open)."""
    rows = repo.overlapping(session, first, last, channel_code_id)
    names = code_names(session, {r.channel_code_id for r in rows})
    return [_view(r, names) for r in rows]


def delete_cost(session: Session, cost_id: int, *, actor: str) -> None:
    """Delete a cost entry (audited)."""
    row = repo.get(session, cost_id)
    if row is None:
        raise NotFound(f"no channel cost {cost_id}", code="channel_cost_not_found")
    audit(session, actor, "channel_cost.delete", "channel_cost", row.id,
          {"channel_code_id": row.channel_code_id, "first_day": row.first_day.isoformat(),
           "last_day": row.last_day.isoformat(), "amount_fen": row.amount_fen})
    repo.delete(session, row)


def share(row_first: date, row_last: date, amount_fen: int, first: date, last: date) -> int:
    """Return the fen of a cost over ``row_first`` … ``row_last`` that falls on ``first`` … ``last``."""
    overlap = (min(row_last, last) - max(row_first, first)).days + 1
    if overlap <= 0:
        return 0
    span = (row_last - row_first).days + 1
    return int((Decimal(amount_fen) * overlap / span).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def costs_between(session: Session, first: date, last: date) -> dict[int, int]:
    """Return {channel code id: fen} of the costs falling on ``first`` … ``last`` (prorated by days)."""
    out: dict[int, int] = {}
    for row in repo.overlapping(session, first, last, None):
        out[row.channel_code_id] = out.get(row.channel_code_id, 0) + share(row.first_day, row.last_day,
                                                                             row.amount_fen, first, last)
    return out
