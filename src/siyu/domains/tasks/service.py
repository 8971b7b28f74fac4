"""Staff tasks (跟进任务): follow-ups shown in the console's inbox and the staff sidebar.

Journeys, mass messages (WeCom makes the staff member confirm each one) and the service SLA create
tasks through :func:`create_tasks`; every task carries an idempotency key, so a job that is replayed
after a crash creates nothing twice. A task is open until the staff member marks it done or someone
cancels it; closing keeps the row with who closed it and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.domains.access import audit
from siyu.domains.tasks import repository as repo
from siyu.domains.tasks.models import StaffTask
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.pagination import Page, clamp_limit
from siyu.kit.time import ensure_utc, utcnow

STATUSES = ("open", "done", "cancelled")


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task to create; ``idempotency_key`` makes creation safe to replay."""

    idempotency_key: str
    title: str
    staff_id: int | None = None
    customer_id: int | None = None
    body: str = ""
    due_at: datetime | None = None
    source: str = "manual"


def _row(task: NewTask, now: datetime) -> dict[str, object]:
    title = task.title.strip() if isinstance(task.title, str) else ""
    if not title or len(title) > 200:
        raise ValidationFailed("a task title must be 1-200 characters", code="invalid_task", field="title")
    if not task.idempotency_key or len(task.idempotency_key) > 160:
        raise ValidationFailed("an idempotency key must be 1-160 characters", code="invalid_task",
                               field="idempotency_key")
    return {"idempotency_key": task.idempotency_key, "staff_id": task.staff_id, "customer_id": task.customer_id,
            "title": title, "body": task.body or "", "due_at": ensure_utc(task.due_at) if task.due_at else None,
            "status": "open", "source": (task.source or "manual")[:80], "created_at": now}


def create_tasks(session: Session, tasks: Sequence[NewTask], *, now: datetime | None = None) -> list[StaffTask]:
    """Create tasks in bulk, ignoring replays of a known key; return the tasks of every key given."""
    if not tasks:
        return []
    now = now or utcnow()
    repo.insert_new(session, [_row(t, now) for t in tasks])
    return repo.by_keys(session, [t.idempotency_key for t in tasks])


def list_tasks(session: Session, *, staff_id: int | None = None, customer_id: int | None = None,
               status: str | None = None, source: str | None = None, cursor: int | None = None,
               limit: int | None = None) -> Page[StaffTask]:
    """Return one page of tasks in id order; ``source`` filters by prefix (e.g. ``journey:``)."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", code="invalid_status", field="status")
    size = clamp_limit(limit)
    rows = repo.tasks(session, staff_id=staff_id, customer_id=customer_id, status=status, source_prefix=source,
                      after=cursor, limit=size + 1)
    return Page(rows[:size], rows[size - 1].id if len(rows) > size else None)


def count_tasks(session: Session, *, staff_id: int | None = None) -> dict[str, int]:
    """Return how many tasks are in each status (every status present)."""
    found = repo.counts_by_status(session, staff_id=staff_id)
    return {s: found.get(s, 0) for s in STATUSES}


def get_task(session: Session, task_id: int, *, staff_id: int | None = None) -> StaffTask:
    """Return a task, or raise ``task_not_found``; a staff caller sees only their own tasks."""
    task = repo.get(session, task_id)
    if task is None or (staff_id is not None and task.staff_id != staff_id):
        raise NotFound(f"no task {task_id}", code="task_not_found")
    return task


def close_task(session: Session, task_id: int, status: str, *, actor: str, staff_id: int | None = None,
               now: datetime | None = None) -> StaffTask:
    """Mark an open task done or cancelled; closing a closed task raises ``task_closed``."""
    if status not in ("done", "cancelled"):
        raise ValidationFailed("a task closes as done or cancelled", code="invalid_status", field="status")
    task = get_task(session, task_id, staff_id=staff_id)
    if not repo.close(session, task_id, status, now or utcnow(), actor):
        raise Conflict(f"task {task_id} is already {task.status}", code="task_closed")
    session.refresh(task)
    audit(session, actor, f"task.{status}", "staff_task", task_id, {})
    return task
