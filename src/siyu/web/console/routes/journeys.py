"""Journey pages: the list, one journey as a flow of steps with live counts, and the staff task inbox.

The flow is drawn server-side from the definition: one card per step in definition order, each with
what it does, where it leads (next, yes/no, split shares, timeout) and its counts (entered, waiting,
done, failed, exited), which refresh every 15 seconds through HTMX. Staff users see only their own
tasks in the inbox (and a customer's open ones in the chat sidebar) and may mark them done.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.journeys import service as journeys
from siyu.domains.tasks import close_task, count_tasks, list_tasks
from siyu.errors import SiyuError
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import is_htmx, page, redirect, safe_next
from siyu.web.deps import get_session

router = APIRouter()
SESSION = Depends(get_session, scope="function")


def _edges(step: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (label key, target) of a step's ways out."""
    kind = step.get("type")
    if kind == "branch":
        return [("journey.edge.yes", step["yes"]), ("journey.edge.no", step["no"])]
    if kind == "split":
        return [(f"{b['percent']}%", b["next"]) for b in step["branches"]]
    edges = [("journey.edge.next", step["next"])] if step.get("next") else []
    if kind == "wait_for_event":
        edges.append(("journey.edge.timeout", step["on_timeout"]))
    return edges


def _summary(step: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """Return a step's parameters as (name, shown value, is a duration); the template words names and units."""
    skip = {"id", "type", "next", "yes", "no", "branches", "on_timeout", "label"}
    parts: list[tuple[str, Any, bool]] = []
    for key, value in step.items():
        if key in skip:
            continue
        if isinstance(value, dict) and value and set(value) <= {"days", "hours", "minutes"}:
            parts.append((key, [(unit, n) for unit, n in value.items() if n], True))  # units named by the template
            continue
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            value = value["text"]  # message content: its text
        elif isinstance(value, dict) and isinstance(value.get("type"), str):
            value = value["type"]  # an event with filters: its type
        parts.append((key, value, False))
    return parts


@router.get("/journeys")
def journey_list(request: Request, _user: ConsoleUser = Depends(require("journeys.view")),
                 session: Session = SESSION) -> Response:
    """List journeys with their status, trigger, version and running enrolments."""
    rows = [(j, journeys.active_enrolments(session, j.id)) for j in journeys.list_journeys(session)]
    return page(request, "journeys/list.html", rows=rows)


@router.get("/journeys/{journey_id}")
def journey_flow(journey_id: int, request: Request, _user: ConsoleUser = Depends(require("journeys.view")),
                 session: Session = SESSION) -> Response:
    """Show a journey as a flow of steps with live counts (the counts alone for HTMX polls)."""
    journey = journeys.get_journey(session, journey_id)
    definition = journeys.current_definition(session, journey)
    counts = {c.step: c for c in journeys.step_counts(session, journey.id)}
    template = "journeys/_steps.html" if is_htmx(request) else "journeys/show.html"
    steps = [{"raw": s, "edges": _edges(s), "summary": _summary(s), "count": counts.get(s["id"])}
             for s in definition["steps"]]
    return page(request, template, journey=journey, definition=definition, steps=steps,
                conversion=journeys.conversion(session, journey.id))


@router.get("/tasks")
def task_inbox(request: Request, user: ConsoleUser = Depends(require("tasks.view")),
               session: Session = SESSION) -> Response:
    """The staff task inbox: open tasks first (a staff user sees only their own)."""
    status = request.query_params.get("status") or "open"
    staff_id = user.principal.scoped_staff_id
    try:
        tasks = list_tasks(session, staff_id=staff_id, status=status, limit=200).items
    except SiyuError:
        status, tasks = "open", list_tasks(session, staff_id=staff_id, status="open", limit=200).items
    return page(request, "journeys/tasks.html", tasks=tasks, shown=status,
                counts=count_tasks(session, staff_id=staff_id))


@router.post("/tasks/{task_id}/complete")
async def complete(task_id: int, request: Request, user: ConsoleUser = Depends(require("tasks.view")),
                   session: Session = SESSION) -> Response:
    """Mark a task done (from the inbox, or the sidebar, which it returns to)."""
    back = str((await request.form()).get("back") or "")
    close_task(session, task_id, "done", actor=user.principal.actor, staff_id=user.principal.scoped_staff_id)
    return redirect(request, safe_next(back, "/tasks"))
