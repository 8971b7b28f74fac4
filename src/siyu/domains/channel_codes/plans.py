"""Build assignment plans from stored codes: pool order, active staff only, persisted cursor."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from siyu.domains.channel_codes import repository as repo
from siyu.domains.channel_codes.assignment import Candidate, Plan
from siyu.domains.channel_codes.models import ChannelCode
from siyu.domains.staff import staff_by_ids


def load_plans(session: Session, codes: Iterable[ChannelCode]) -> dict[int, Plan]:
    """Return {code_id: Plan} for ``codes`` in two queries; departed staff are left out."""
    codes = list(codes)
    pools = repo.pools(session, [c.id for c in codes])
    staff_ids = {m.staff_id for members in pools.values() for m in members}
    staff_ids.update(sid for c in codes for sid in c.backup_staff_ids or [])
    active = {sid for sid, s in staff_by_ids(session, staff_ids).items() if s.status == "active"}
    plans: dict[int, Plan] = {}
    for code in codes:
        pool = [Candidate(m.staff_id, m.weight, m.daily_cap) for m in pools.get(code.id, []) if m.staff_id in active]
        plans[code.id] = Plan(code_id=code.id, strategy=code.strategy, working_hours=code.working_hours or {},
                              pool=pool, backups=[sid for sid in code.backup_staff_ids or [] if sid in active],
                              cursor=code.rr_cursor % len(pool) if pool else 0)
    return plans
