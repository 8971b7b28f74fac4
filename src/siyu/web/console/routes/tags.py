"""Tags: groups (create, rename, exclusive), tags by group with holders, new manual and rule tags, tag a segment.

Each form posts to its own action; a refused one re-renders the page with the error beside its
field (a rule tag's rule: every problem with its JSON path, previewed live like a segment's rule).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.segments import service as segments
from siyu.domains.tags import service as tags
from siyu.errors import SiyuError
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, form_values, page, redirect, translator
from siyu.web.console.routes.segments import EXAMPLES, parse_rule_text, rule_problems
from siyu.web.deps import get_session

router = APIRouter()
FORMS = ("group", "tag", "rule", "apply", "rename")


def _page(request: Request, session: Session, *, errors: dict[str, Any] | None = None,
          values: dict[str, str] | None = None, status: int = 200) -> Response:
    by_group: dict[str, list[tags.TagView]] = defaultdict(list)
    for view in tags.describe_tags(session):
        by_group[view.tag.group_name].append(view)
    rule_default = orjson.dumps(EXAMPLES[1][1], option=orjson.OPT_INDENT_2).decode()
    return page(request, "tags/list.html", status=status, groups=tags.list_groups(session), by_group=by_group,
                segments=segments.list_segments(session), errors=errors or {},
                values={"rule": rule_default, **(values or {})}, done=request.query_params.get("done"))


@router.get("/tags")
def tag_page(request: Request, _user: ConsoleUser = Depends(require("tags.view")),
             session: Session = Depends(get_session, scope="function")) -> Response:
    """Show tag groups, tags with how many customers hold them, and the forms that change them."""
    return _page(request, session)


async def _act(request: Request, session: Session, form_name: str, action: Any) -> Response:
    """Run one form's action; on a refusal show the page again with the error beside the field."""
    values = await form_values(request)
    try:
        action(values)
    except SiyuError as exc:
        session.rollback()
        t = translator(request)
        if exc.code in ("invalid_rule", "rule_cycle"):
            errors: dict[str, Any] = {"rule.rule": rule_problems(exc, t)}
        else:
            errors = {f"{form_name}.{exc.details.get('field') or 'name'}": error_text(t, exc)}
        return _page(request, session, errors=errors, values=values, status=422)
    return redirect(request, f"/tags?done={form_name}")


@router.post("/tags/groups")
async def create_group(request: Request, user: ConsoleUser = Depends(require("tags.edit")),
                       session: Session = Depends(get_session, scope="function")) -> Response:
    """Create a tag group."""
    return await _act(request, session, "group", lambda v: tags.create_group(
        session, v.get("name", ""), exclusive=v.get("exclusive") == "1", actor=user.principal.actor))


@router.post("/tags/groups/rename")
async def rename_group(request: Request, user: ConsoleUser = Depends(require("tags.edit")),
                       session: Session = Depends(get_session, scope="function")) -> Response:
    """Rename a tag group."""
    return await _act(request, session, "rename", lambda v: tags.rename_group(
        session, v.get("old", ""), v.get("name", ""), actor=user.principal.actor))


@router.post("/tags/new")
async def create_tag(request: Request, user: ConsoleUser = Depends(require("tags.edit")),
                     session: Session = Depends(get_session, scope="function")) -> Response:
    """Create a manual tag."""
    return await _act(request, session, "tag", lambda v: tags.create_tag(
        session, v.get("name", ""), group_name=v.get("group", "") or tags.DEFAULT_GROUP, actor=user.principal.actor))


@router.post("/tags/rules")
async def create_rule_tag(request: Request, user: ConsoleUser = Depends(require("tags.edit")),
                          session: Session = Depends(get_session, scope="function")) -> Response:
    """Create a rule tag (evaluated now, kept current)."""
    tz = request.app.state.settings.tz
    return await _act(request, session, "rule", lambda v: segments.create_rule_tag(
        session, name=v.get("name", ""), rule=parse_rule_text(v.get("rule", "")), group=v.get("group", "") or "规则标签",
        actor=user.principal.actor, tz=tz))


@router.post("/tags/apply")
async def apply_to_segment(request: Request, user: ConsoleUser = Depends(require("tags.edit")),
                           session: Session = Depends(get_session, scope="function")) -> Response:
    """Put a manual tag on every member of a segment."""
    def run(v: dict[str, str]) -> None:
        segment = v.get("segment", "")
        if not segment.isdigit():
            raise SiyuError("choose a segment", code="segment_not_found", field="segment")
        segments.tag_segment(session, int(segment), v.get("tag", ""), user.principal)

    return await _act(request, session, "apply", run)
