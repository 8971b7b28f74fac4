"""Journey editing in the console: start from a ready template, edit the definition, publish and pause.

The definition is edited as the JSON of docs/journeys.md (the same document the API and
``siyu journey`` take), beside the ready templates and a link to the format. A refused definition
comes back with every problem listed at its JSON path and step, and the text as typed. Editing a
published journey makes a new version: customers already enrolled keep theirs (the API migrates
them explicitly). These routes are registered before the journey pages so ``/journeys/new`` is not
read as a journey id.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.journeys import service as journeys
from siyu.domains.journeys.definition import InvalidJourney
from siyu.domains.journeys.models import Journey
from siyu.domains.journeys.templates import TEMPLATES, template
from siyu.errors import SiyuError
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, page, redirect, translator
from siyu.web.deps import get_session

router = APIRouter()
SESSION = Depends(get_session, scope="function")
EDIT = Depends(require("journeys.edit"))
BLANK: dict[str, Any] = {"trigger": {"type": "manual"}, "steps": [
    {"id": "hello", "type": "send_message", "channel": "wecom", "content": {"text": "您好"}}]}


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


class _NotJson(InvalidJourney):
    """The definition box does not hold JSON."""


def _parse(text: str) -> Any:
    try:
        return orjson.loads(text or "")
    except orjson.JSONDecodeError as exc:
        raise _NotJson(f"$: the definition is not JSON ({exc})", errors=[
            {"path": "$", "code": "invalid_json", "message": f"not JSON: {exc}"}]) from exc


def _form(request: Request, journey: Journey | None, values: dict[str, str], errors: dict[str, Any],
          status: int = 200) -> Response:
    choices = [(key, str(spec.get("description", ""))) for key, spec in TEMPLATES.items()]
    return page(request, "journeys/form.html", status=status, journey=journey, values=values, errors=errors,
                templates=choices)


def _errors(request: Request, exc: SiyuError) -> dict[str, Any]:
    """Place a refusal: definition problems by path and step, a name problem beside the name."""
    problems = exc.details.get("errors")
    if isinstance(problems, list) and problems:
        return {"definition": problems}
    t = translator(request)
    field = str(exc.details.get("field") or ("name" if exc.code in ("invalid_name", "journey_exists") else "definition"))
    if field == "definition":
        return {"definition": [{"path": "$", "code": exc.code, "message": error_text(t, exc)}]}
    return {field: error_text(t, exc)}


@router.get("/journeys/new")
def new_form(request: Request, _user: ConsoleUser = EDIT) -> Response:
    """Show an editor filled from a ready template (``?template=``) or a one-step example."""
    key = request.query_params.get("template") or ""
    chosen = template(key) if key in TEMPLATES else BLANK
    description = str(TEMPLATES[key].get("description", "")) if key in TEMPLATES else ""
    return _form(request, None, {"name": "", "description": description, "definition": _json(chosen),
                                 "template": key if key in TEMPLATES else ""}, {})


@router.post("/journeys/new")
async def create(request: Request, user: ConsoleUser = EDIT, session: Session = SESSION) -> Response:
    """Create a draft journey; problems go beside the name or under the definition."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("name", "description", "definition", "template")}
    try:
        journey = journeys.create_journey(session, name=values["name"], definition=_parse(values["definition"]),
                                          description=values["description"].strip(), actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        return _form(request, None, values, _errors(request, exc), status=422)
    return redirect(request, f"/journeys/{journey.id}")


@router.get("/journeys/{journey_id}/edit")
def edit_form(journey_id: int, request: Request, _user: ConsoleUser = EDIT, session: Session = SESSION) -> Response:
    """Show the editor with a journey's current definition."""
    journey = journeys.get_journey(session, journey_id)
    return _form(request, journey, {"name": journey.name, "description": journey.description,
                                    "definition": _json(journeys.current_definition(session, journey))}, {})


@router.post("/journeys/{journey_id}/edit")
async def save(journey_id: int, request: Request, user: ConsoleUser = EDIT, session: Session = SESSION) -> Response:
    """Save a definition: in place while a draft, as a new version once published."""
    journey = journeys.get_journey(session, journey_id)
    form = await request.form()
    values = {"name": journey.name, "description": journey.description, "definition": str(form.get("definition") or "")}
    try:
        journeys.update_definition(session, journey.id, _parse(values["definition"]), actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        return _form(request, journeys.get_journey(session, journey_id), values, _errors(request, exc), status=422)
    return redirect(request, f"/journeys/{journey.id}")


@router.post("/journeys/{journey_id}/publish")
def publish(journey_id: int, request: Request, user: ConsoleUser = EDIT, session: Session = SESSION) -> Response:
    """Start or resume a journey: its trigger enrols customers into the current version from now on."""
    journeys.publish(session, journey_id, actor=user.principal.actor)
    return redirect(request, f"/journeys/{journey_id}")


@router.post("/journeys/{journey_id}/pause")
def pause(journey_id: int, request: Request, user: ConsoleUser = EDIT, session: Session = SESSION) -> Response:
    """Pause a running journey: no new enrolments, no steps, until it is published again."""
    journeys.pause(session, journey_id, actor=user.principal.actor)
    return redirect(request, f"/journeys/{journey_id}")
