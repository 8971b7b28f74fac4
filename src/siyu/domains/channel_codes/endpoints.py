"""HTTP: channel codes, their statistics and the next assignee. Thin over the service."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.access import Principal
from siyu.domains.channel_codes import service
from siyu.domains.channel_codes.schemas import (
    AssigneeIn,
    AssigneeOut,
    CodeCreate,
    CodeOut,
    CodePage,
    CodeUpdate,
    DayStatOut,
    PoolEntryIn,
    PoolMemberOut,
    StaffRefOut,
    StatsOut,
)
from siyu.domains.access.deps import get_session, get_settings_dep, require_scope

router = APIRouter(prefix="/channel-codes", tags=["channel codes"])
admin = require_scope("admin")


def _ref(ref: service.StaffRef) -> StaffRefOut:
    return StaffRefOut(staff_id=ref.staff_id, userid=ref.userid, name=ref.name, status=ref.status)


def _out(view: service.CodeView, settings: Settings) -> CodeOut:
    c = view.code
    pool = [PoolMemberOut(**_ref(m.staff).model_dump(), weight=m.weight, daily_cap=m.daily_cap) for m in view.pool]
    return CodeOut(id=c.id, name=c.name, state=c.state, platform=c.platform, channel=c.channel, strategy=c.strategy,
                   working_hours=c.working_hours or {}, pool=pool, backup=[_ref(b) for b in view.backups],
                   tags=list(c.tags or []), welcome_template=c.welcome_template, landing_url=c.landing_url,
                   landing_link=service.landing_link(settings, c), active=c.active, created_at=c.created_at,
                   updated_at=c.updated_at)


def _pool(entries: list[PoolEntryIn]) -> list[service.PoolEntry]:
    return [service.PoolEntry(userid=e.userid, weight=e.weight, daily_cap=e.daily_cap) for e in entries]


@router.post("", response_model=CodeOut, status_code=201)
def create_code(body: CodeCreate, session: Session = Depends(get_session, scope="function"),
                settings: Settings = Depends(get_settings_dep),
                principal: Principal = Depends(admin)) -> CodeOut:
    """Create a channel code."""
    view = service.create_code(
        session, name=body.name, platform=body.platform, strategy=body.strategy, pool=_pool(body.pool),
        state=body.state, channel=body.channel, working_hours=body.working_hours, backup=body.backup,
        tags=body.tags, welcome_template=body.welcome_template, landing_url=body.landing_url,
        actor=principal.actor)
    return _out(view, settings)


@router.get("", response_model=CodePage)
def list_codes(active: bool | None = None, platform: str | None = None, cursor: int | None = None,
               limit: int = Query(50, ge=1, le=200), session: Session = Depends(get_session, scope="function"),
               settings: Settings = Depends(get_settings_dep),
               _: Principal = Depends(admin)) -> CodePage:
    """List channel codes (keyset pagination by id)."""
    page = service.list_codes(session, active=active, platform=platform, after_id=cursor, limit=limit)
    return CodePage(items=[_out(v, settings) for v in page.items], next_cursor=page.next_cursor)


@router.get("/{code_id}", response_model=CodeOut)
def get_code(code_id: int, session: Session = Depends(get_session, scope="function"),
             settings: Settings = Depends(get_settings_dep), _: Principal = Depends(admin)) -> CodeOut:
    """Show one channel code."""
    return _out(service.get_code(session, code_id), settings)


@router.patch("/{code_id}", response_model=CodeOut)
def update_code(code_id: int, body: CodeUpdate, session: Session = Depends(get_session, scope="function"),
                settings: Settings = Depends(get_settings_dep),
                principal: Principal = Depends(admin)) -> CodeOut:
    """Change the fields given in the body."""
    changes = body.model_dump(exclude_unset=True)
    if body.pool is not None:
        changes["pool"] = _pool(body.pool)
    return _out(service.update_code(session, code_id, changes, actor=principal.actor), settings)


@router.delete("/{code_id}", response_model=CodeOut)
def deactivate_code(code_id: int, session: Session = Depends(get_session, scope="function"),
                    settings: Settings = Depends(get_settings_dep),
                    principal: Principal = Depends(admin)) -> CodeOut:
    """Deactivate a code (history and statistics are kept)."""
    return _out(service.deactivate_code(session, code_id, actor=principal.actor), settings)


@router.get("/{code_id}/stats", response_model=StatsOut)
def stats(code_id: int, days: int = Query(30, ge=1, le=366), session: Session = Depends(get_session, scope="function"),
          settings: Settings = Depends(get_settings_dep), _: Principal = Depends(admin)) -> StatsOut:
    """Return contacts added and lost per day (brand time zone) over the last ``days`` days."""
    result = service.code_stats(session, code_id, days, tz=settings.tz)
    return StatsOut(code_id=result.code_id, added=result.added, lost=result.lost, active=result.active,
                    days=[DayStatOut(day=d.day, added=d.added, lost=d.lost, net=d.net) for d in result.days])


@router.post("/{code_id}/next-assignee", response_model=AssigneeOut)
def next_assignee(code_id: int, body: AssigneeIn | None = Body(default=None), session: Session = Depends(get_session, scope="function"),
                  settings: Settings = Depends(get_settings_dep), _: Principal = Depends(admin)) -> AssigneeOut:
    """Return the staff member the code's next scan reaches (advances round-robin)."""
    chosen = service.next_assignee(session, settings, code_id, body.at if body else None)
    return AssigneeOut(code_id=chosen.code_id, staff_id=chosen.staff_id, userid=chosen.userid, name=chosen.name,
                       via=chosen.via)
