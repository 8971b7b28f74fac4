"""HTTP: mass messages (/api/v1/mass-messages). Reading needs a reader; everything else an editor
(admin-scoped key, admin or operator user)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_editor, require_reader
from siyu.domains.mass_messages import sending, service
from siyu.domains.mass_messages.models import MassMessage
from siyu.domains.mass_messages.schemas import MassIn, MassList, MassOut, PreviewOut, ScheduleIn

router = APIRouter(prefix="/mass-messages", tags=["mass messages"])


def out(row: MassMessage) -> MassOut:
    """Return the API shape of a mass message."""
    return MassOut(id=row.id, name=row.name, audience=row.audience, channel=row.channel, content_id=row.content_id,
                   collection=row.collection,
                   variant=row.variant, send_at=row.send_at, status=row.status, recipients=row.recipients,
                   skipped=row.skipped, tasks=row.tasks, created_by=row.created_by, created_at=row.created_at,
                   sent_at=row.sent_at)


@router.get("", response_model=MassList)
def list_mass(status: str | None = None, limit: int = Query(100, ge=1, le=500),
              session: Session = Depends(get_session, scope="function"),
              _: Principal = Depends(require_reader)) -> MassList:
    """List mass messages newest first."""
    return MassList(items=[out(r) for r in service.list_messages(session, status=status, limit=limit)])


@router.post("", response_model=MassOut, status_code=201)
def create_mass(body: MassIn = Body(...), session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_editor)) -> MassOut:
    """Create a mass message (scheduled when send_at is given, else a draft)."""
    return out(service.create(session, body, actor=principal.actor))


@router.get("/{mass_id}", response_model=MassOut)
def get_mass(mass_id: int, session: Session = Depends(get_session, scope="function"),
             _: Principal = Depends(require_reader)) -> MassOut:
    """Return one mass message."""
    return out(service.get(session, mass_id))


@router.get("/{mass_id}/preview", response_model=PreviewOut)
def preview_mass(mass_id: int, request: Request, session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(require_editor)) -> PreviewOut:
    """Count the recipients now and those left after opt-outs, consent and caps."""
    return sending.preview(session, mass_id, request.app.state.settings.tz, principal)


@router.post("/{mass_id}/schedule", response_model=MassOut)
def schedule_mass(mass_id: int, body: ScheduleIn = Body(...), session: Session = Depends(get_session, scope="function"),
                  principal: Principal = Depends(require_editor)) -> MassOut:
    """Set or move the send time."""
    return out(service.schedule(session, mass_id, body.send_at, actor=principal.actor))


@router.post("/{mass_id}/send", response_model=MassOut)
def send_mass(mass_id: int, request: Request, session: Session = Depends(get_session, scope="function"),
              principal: Principal = Depends(require_editor)) -> MassOut:
    """Enqueue the message for every recipient now (409 if it was sent or cancelled)."""
    return out(sending.send(session, request.app.state.settings, mass_id, actor=principal.actor, principal=principal))


@router.post("/{mass_id}/cancel", response_model=MassOut)
def cancel_mass(mass_id: int, session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_editor)) -> MassOut:
    """Cancel a draft or scheduled message."""
    return out(service.cancel(session, mass_id, actor=principal.actor))
