"""Follow-up actions on a customer: add or remove a tag, write a note (跟进记录).

Each answers an HTMX request with the updated section (errors beside the field, status 422) and a
plain form post with a redirect back, so the pages also work without JavaScript. The 360 page and
the staff sidebar share these endpoints and their fragments.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.customers import followup
from siyu.errors import ValidationFailed
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import field_errors, is_htmx, page, redirect, request_id, safe_next, translator
from siyu.web.console.routes.customer import detail_page
from siyu.web.deps import get_session

router = APIRouter()


def _tags_section(request: Request, session: Session, user: ConsoleUser, cid: int, *, errors: dict[str, str],
                  value: str = "") -> Response:
    tags = followup.tags_held(session, user.principal, cid)
    return page(request, "customer/_tags.html", status=422 if errors else 200, cid=cid, tags=tags,
                tag_errors=errors, tag_value=value, editable=True)


def _back(request: Request, cid: int, back: str) -> Response:
    return redirect(request, safe_next(back, f"/customers/{cid}"))


@router.post("/customers/{cid}/tags")
def add_tag(cid: int, request: Request, tag: str = Form(""), back: str = Form(""),
            user: ConsoleUser = Depends(require("customers.edit")),
            session: Session = Depends(get_session, scope="function")) -> Response:
    """Put a manual tag on the customer."""
    errors: dict[str, str] = {}
    try:
        followup.add_tag(session, user.principal, cid, tag, request_id=request_id(request))
    except ValidationFailed as exc:
        errors = field_errors(translator(request), exc, "tag")
    if is_htmx(request):
        return _tags_section(request, session, user, cid, errors=errors, value=tag if errors else "")
    if errors:
        return detail_page(request, session, user, cid, status=422, tag_errors=errors, tag_value=tag)
    return _back(request, cid, back)


@router.post("/customers/{cid}/tags/remove")
def remove_tag(cid: int, request: Request, tag: str = Form(""), back: str = Form(""),
               user: ConsoleUser = Depends(require("customers.edit")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """Take a tag off the customer."""
    followup.drop_tag(session, user.principal, cid, tag, request_id=request_id(request))
    if is_htmx(request):
        return _tags_section(request, session, user, cid, errors={})
    return _back(request, cid, back)


@router.post("/customers/{cid}/notes")
def add_note(cid: int, request: Request, method: str = Form("chat"), body: str = Form(""), back: str = Form(""),
             user: ConsoleUser = Depends(require("customers.edit")),
             session: Session = Depends(get_session, scope="function")) -> Response:
    """Write a follow-up note on the customer."""
    errors: dict[str, str] = {}
    try:
        followup.add_note(session, user.principal, cid, method, body, request_id=request_id(request))
    except ValidationFailed as exc:
        errors = field_errors(translator(request), exc, "body")
    if is_htmx(request):
        notes = followup.list_notes(session, user.principal, cid)
        values = {"method": method, "body": body} if errors else {}
        return page(request, "customer/_notes.html", status=422 if errors else 200, cid=cid, notes=notes,
                    note_errors=errors, note_values=values, editable=True)
    if errors:
        return detail_page(request, session, user, cid, status=422, note_errors=errors,
                           note_values={"method": method, "body": body})
    return _back(request, cid, back)
