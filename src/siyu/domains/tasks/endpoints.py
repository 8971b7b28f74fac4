"""HTTP: staff tasks (/api/v1/tasks). Staff users see and close only their own tasks."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body, Depends
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_reader
from siyu.domains.tasks import service
from siyu.domains.tasks.schemas import TaskIn, TaskList, TaskOut

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=TaskList)
def list_tasks(staff_id: int | None = None, customer_id: int | None = None, status: str | None = None,
               source: str | None = None, cursor: int | None = None, limit: int | None = None,
               session: Session = Depends(get_session, scope="function"),
               principal: Principal = Depends(require_reader)) -> TaskList:
    """List tasks in id order, filtered by staff member, customer, status or source prefix."""
    scoped = principal.scoped_staff_id
    staff = scoped if scoped is not None else staff_id
    page = service.list_tasks(session, staff_id=staff, customer_id=customer_id, status=status, source=source,
                              cursor=cursor, limit=limit)
    return TaskList(items=[TaskOut.model_validate(t) for t in page.items], next_cursor=page.next_cursor,
                    counts=service.count_tasks(session, staff_id=staff))


@router.post("", response_model=TaskOut, status_code=201)
def create_task(body: TaskIn = Body(...), session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_reader)) -> TaskOut:
    """Create a task by hand; a staff user creates tasks only for themself."""
    staff_id = principal.scoped_staff_id if principal.scoped_staff_id is not None else body.staff_id
    key = f"api:{body.idempotency_key}" if body.idempotency_key else f"manual:{uuid.uuid4().hex}"
    task = service.create_tasks(session, [service.NewTask(idempotency_key=key, title=body.title, body=body.body,
                                                          staff_id=staff_id, customer_id=body.customer_id,
                                                          due_at=body.due_at, source="manual")])[0]
    return TaskOut.model_validate(task)


@router.get("/{task_id}", response_model=TaskOut)
def show_task(task_id: int, session: Session = Depends(get_session, scope="function"),
              principal: Principal = Depends(require_reader)) -> TaskOut:
    """Show one task."""
    return TaskOut.model_validate(service.get_task(session, task_id, staff_id=principal.scoped_staff_id))


@router.post("/{task_id}/complete", response_model=TaskOut)
def complete_task(task_id: int, session: Session = Depends(get_session, scope="function"),
                  principal: Principal = Depends(require_reader)) -> TaskOut:
    """Mark an open task done."""
    task = service.close_task(session, task_id, "done", actor=principal.actor, staff_id=principal.scoped_staff_id)
    return TaskOut.model_validate(task)


@router.post("/{task_id}/cancel", response_model=TaskOut)
def cancel_task(task_id: int, session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_reader)) -> TaskOut:
    """Cancel an open task."""
    task = service.close_task(session, task_id, "cancelled", actor=principal.actor, staff_id=principal.scoped_staff_id)
    return TaskOut.model_validate(task)
