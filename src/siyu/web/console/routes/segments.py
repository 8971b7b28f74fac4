"""Segments: the list with size and freshness, the rule editor with a live preview, a segment's members.

The editor is a JSON editor (the rule language of docs/segments.md, with examples beside it): every
change is previewed by HTMX (count and newest customers, or each problem with its JSON path), and
a save that fails shows the errors beside the field they concern. Staff users see only customers
they follow, in previews and member lists alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.segments import rules, service
from siyu.domains.segments.models import Segment
from siyu.domains.tags import service as tags
from siyu.errors import SiyuError
from siyu.kit.time import utcnow
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, page, redirect, translator
from siyu.web.deps import get_session

router = APIRouter()
PAGE_SIZE = 50
EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("seg.example.active_women", {"all": [{"attribute": "gender", "op": "eq", "value": "female"},
                                         {"event": "content_viewed", "count": {"op": "gte", "value": 2},
                                          "window": {"last_days": 30}}]}),
    ("seg.example.birthday", {"attribute": "birthday", "op": "anniversary_within_days", "value": 7}),
    ("seg.example.winback", {"all": [{"order": "count", "op": "gte", "value": 2},
                                     {"order": "last_at", "op": "more_than_days_ago", "value": 60}]}),
    ("seg.example.silent", {"all": [{"owner": "*"}, {"event": "message_received", "op": "did_not",
                                                     "window": {"last_days": 30}}]}),
    ("seg.example.rfm", {"score": "rfm_segment", "op": "in", "value": ["important_retention", "important_winback"]}),
)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def freshness(segment: Segment, now: datetime) -> int | None:
    """Return minutes since the segment's members were last brought up to date (None: never)."""
    times = [t for t in (segment.refreshed_at, segment.touched_at) if t is not None]
    return int((now - max(times)).total_seconds() // 60) if times else None


@router.get("/segments")
def segment_list(request: Request, _user: ConsoleUser = Depends(require("segments.view")),
                 session: Session = Depends(get_session, scope="function")) -> Response:
    """List segments with their size and how fresh their members are."""
    now = utcnow()
    items = [(s, freshness(s, now)) for s in service.list_segments(session)]
    return page(request, "segments/list.html", items=items)


def rule_problems(exc: SiyuError, t: Any) -> list[dict[str, str]]:
    """Return every problem of a refused rule with its JSON path (other errors: one problem at the root)."""
    problems = exc.details.get("errors") if isinstance(exc.details.get("errors"), list) else None
    return problems or [{"path": "$", "code": exc.code, "message": error_text(t, exc)}]


def parse_rule_text(text: str) -> Any:
    """Return the JSON typed in a rule box, or raise ``invalid_rule`` at the root."""
    try:
        return orjson.loads(text or "")
    except orjson.JSONDecodeError as exc:
        raise rules.InvalidRule(f"$: the rule is not JSON ({exc})", errors=[
            {"path": "$", "code": "invalid_json", "message": f"not JSON: {exc}"}]) from exc


@router.post("/segments/preview")
async def preview(request: Request, user: ConsoleUser = Depends(require("segments.view")),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    """Preview a rule as typed (an HTMX fragment): count and newest customers, or each problem by path."""
    form = await request.form()
    try:
        result = service.preview(session, parse_rule_text(str(form.get("rule") or "")), user.principal,
                                 request.app.state.settings.tz, sample=10)
    except SiyuError as exc:
        return page(request, "segments/_preview.html", result=None, problems=rule_problems(exc, translator(request)))
    return page(request, "segments/_preview.html", result=result, problems=[])


def _form_page(request: Request, segment: Segment | None, values: dict[str, str],
               errors: dict[str, Any], status: int = 200) -> Response:
    return page(request, "segments/form.html", status=status, segment=segment, values=values, errors=errors,
                examples=[(key, _json(rule)) for key, rule in EXAMPLES])


@router.get("/segments/new")
def new_form(request: Request, _user: ConsoleUser = Depends(require("segments.edit"))) -> Response:
    """Show an empty editor."""
    return _form_page(request, None, {"name": "", "description": "", "rule": _json(EXAMPLES[0][1])}, {})


@router.get("/segments/{segment_id}/edit")
def edit_form(segment_id: int, request: Request, _user: ConsoleUser = Depends(require("segments.edit")),
              session: Session = Depends(get_session, scope="function")) -> Response:
    """Show the editor filled with a segment."""
    s = service.get_segment(session, segment_id)
    return _form_page(request, s, {"name": s.name, "description": s.description, "rule": _json(s.rule)}, {})


@router.post("/segments/new")
@router.post("/segments/{segment_id}/edit")
async def save(request: Request, segment_id: int | None = None, user: ConsoleUser = Depends(require("segments.edit")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """Create or change a segment; errors go beside the name or the rule."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("name", "description", "rule")}
    segment = service.get_segment(session, segment_id) if segment_id is not None else None
    tz = request.app.state.settings.tz
    try:
        rule = parse_rule_text(values["rule"])
        if segment is None:
            segment = service.create_segment(session, name=values["name"], rule=rule, description=values["description"],
                                             actor=user.principal.actor, tz=tz)
        else:
            service.update_segment(session, segment.id, actor=user.principal.actor, tz=tz, name=values["name"],
                                   rule=rule, description=values["description"])
    except SiyuError as exc:
        session.rollback()
        t = translator(request)
        errors: dict[str, Any] = {"rule": rule_problems(exc, t)} if exc.code in ("invalid_rule", "rule_cycle") else \
            {str(exc.details.get("field") or "name"): error_text(t, exc)}
        return _form_page(request, segment, values, errors, status=422)
    return redirect(request, f"/segments/{segment.id}")


@router.get("/segments/{segment_id}")
def detail(segment_id: int, request: Request, after: int | None = Query(None, ge=1),
           user: ConsoleUser = Depends(require("segments.view")),
           session: Session = Depends(get_session, scope="function")) -> Response:
    """Show a segment: rule, size, freshness, its current members (the caller's own, for staff users)."""
    return _detail(request, session, user, segment_id, after=after, notice=_notice(request))


def _notice(request: Request) -> str | None:
    """Return the message of the action just done (``?done=refreshed:E:X`` or ``tagged:N``)."""
    parts = (request.query_params.get("done") or "").split(":")
    t = translator(request)
    if parts[0] == "refreshed" and len(parts) == 3:
        return t("seg.done.refreshed", entered=parts[1], exited=parts[2])
    if parts[0] == "tagged" and len(parts) == 2:
        return t("seg.done.tagged", n=parts[1])
    return None


def _detail(request: Request, session: Session, user: ConsoleUser, segment_id: int, *, after: int | None = None,
            notice: str | None = None, tag_error: str | None = None, status: int = 200) -> Response:
    segment = service.get_segment(session, segment_id)
    members = service.members(session, segment.id, user.principal, cursor=after, limit=PAGE_SIZE)
    manual = [t.name for t in tags.list_tags(session, kind="manual")]
    return page(request, "segments/detail.html", status=status, s=segment, rule=_json(segment.rule), members=members,
                fresh=freshness(segment, utcnow()), manual_tags=manual, notice=notice, tag_error=tag_error)


@router.post("/segments/{segment_id}/refresh")
def refresh(segment_id: int, request: Request, _user: ConsoleUser = Depends(require("segments.edit")),
            session: Session = Depends(get_session, scope="function")) -> Response:
    """Evaluate a segment over every customer now."""
    entered, exited = service.refresh_segment(session, segment_id, request.app.state.settings.tz)
    return redirect(request, f"/segments/{segment_id}?done=refreshed:{entered}:{exited}")


@router.post("/segments/{segment_id}/tag")
async def tag_members(segment_id: int, request: Request, user: ConsoleUser = Depends(require("tags.edit")),
                      session: Session = Depends(get_session, scope="function")) -> Response:
    """Put a manual tag on every member of the segment at once (audited)."""
    form = await request.form()
    try:
        added = service.tag_segment(session, segment_id, str(form.get("tag") or ""), user.principal)
    except SiyuError as exc:
        if exc.status == 404 and exc.code == "segment_not_found":
            raise
        return _detail(request, session, user, segment_id, tag_error=error_text(translator(request), exc), status=422)
    return redirect(request, f"/segments/{segment_id}?done=tagged:{added}")
