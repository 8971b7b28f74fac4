"""Identity actions for admins and operators: the review queue; merge, unmerge and split from the 360 page.

The review queue lists refused junk values and merges that OneID would not make on its own
(conflicting unique identities, an operator's split). Resolving closes an entry with a note;
merging or unmerging is its own audited action, taken on the customer's page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from siyu.domains.access.deps import identity_context
from siyu.domains.identity import service as identity
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, page, redirect, translator
from siyu.web.console.routes.customer import detail_page
from siyu.web.deps import get_session

router = APIRouter()
STATUSES = ("open", "resolved", "dismissed", "all")
CATEGORIES = ("junk", "conflict", "blocked")
PAGE_SIZE = 50
MAX_REASON = 500


def _reason(request: Request, reason: str) -> str | None:
    text = reason.strip()
    return translator(request)("identity.reason_required") if not text or len(text) > MAX_REASON else None


@router.get("/identity/review")
def review_queue(request: Request, status: str = Query("open"), category: str = Query(""),
                 before: int | None = Query(None, ge=1), _user: ConsoleUser = Depends(require("identity.edit")),
                 session: Session = Depends(get_session, scope="function")) -> Response:
    """List the review queue, newest first, by status and category."""
    status = status if status in STATUSES else "open"
    category = category if category in CATEGORIES else ""
    items = identity.list_issues(session, status=None if status == "all" else status, category=category or None,
                                 limit=PAGE_SIZE, before=before)
    more = items[-1]["id"] if len(items) == PAGE_SIZE else None
    return page(request, "identity/review.html", items=items, status_filter=status, category=category, more=more,
                statuses=STATUSES, categories=CATEGORIES, errors={})


@router.post("/identity/review/{issue_id}/resolve")
def resolve(issue_id: int, request: Request, resolution: str = Form(""), outcome: str = Form("resolved"),
            user: ConsoleUser = Depends(require("identity.edit")),
            session: Session = Depends(get_session, scope="function")) -> Response:
    """Close a review entry as resolved or dismissed, with a note."""
    problem = _reason(request, resolution)
    if problem is None:
        try:
            identity.resolve_issue(session, issue_id, actor=user.principal.actor, resolution=resolution.strip(),
                                   status=outcome)
            return redirect(request, "/identity/review")
        except (ValidationFailed, Conflict) as exc:
            problem = error_text(translator(request), exc)
    items = identity.list_issues(session, status="open", limit=PAGE_SIZE)
    return page(request, "identity/review.html", status=422, items=items, status_filter="open", category="",
                more=None, statuses=STATUSES, categories=CATEGORIES, errors={issue_id: problem})


@router.post("/customers/{cid}/unmerge")
def unmerge(cid: int, request: Request, merge_id: int = Form(...), reason: str = Form(""),
            user: ConsoleUser = Depends(require("identity.edit")),
            session: Session = Depends(get_session, scope="function")) -> Response:
    """Undo a merge of this customer: the merged customer gets its identities back."""
    problem = _reason(request, reason)
    if problem is None:
        try:
            identity.undo_merge(session, merge_id, actor=user.principal.actor, reason=reason.strip(), customer_id=cid)
            return redirect(request, f"/customers/{cid}")
        except (Conflict, NotFound) as exc:
            problem = error_text(translator(request), exc)
    return detail_page(request, session, user, cid, status=422, merge_errors={f"unmerge_{merge_id}": problem})


@router.post("/customers/{cid}/merge")
def merge(cid: int, request: Request, other_customer_id: str = Form(""), reason: str = Form(""),
          force: str = Form(""), user: ConsoleUser = Depends(require("identity.edit")),
          session: Session = Depends(get_session, scope="function")) -> Response:
    """Merge another customer into this one (the older id survives)."""
    t = translator(request)
    errors: dict[str, str] = {}
    if not other_customer_id.strip().isdigit():
        errors["other_customer_id"] = t("identity.bad_customer_id")
    if (problem := _reason(request, reason)) is not None:
        errors["reason"] = problem
    if not errors:
        try:
            done = identity.merge_customers(session, identity_context(request), cid, int(other_customer_id),
                                            actor=user.principal.actor, reason=reason.strip(), force=bool(force))
            return redirect(request, f"/customers/{done['customer_id']}")
        except (Conflict, NotFound) as exc:
            errors["other_customer_id"] = error_text(t, exc)
    return detail_page(request, session, user, cid, status=422, merge_errors=errors,
                       merge_values={"other_customer_id": other_customer_id, "reason": reason})


@router.post("/customers/{cid}/split")
async def split(cid: int, request: Request, user: ConsoleUser = Depends(require("identity.edit")),
                session: Session = Depends(get_session, scope="function")) -> Response:
    """Move the chosen identities (and the facts anchored on them) out into a new customer."""
    form = await request.form()
    chosen = [int(v) for v in form.getlist("identity_id") if isinstance(v, str) and v.isdigit()]
    reason = str(form.get("reason") or "")
    return await run_in_threadpool(_split, request, session, user, cid, chosen, reason)


def _split(request: Request, session: Session, user: ConsoleUser, cid: int, chosen: list[int], reason: str) -> Response:
    t = translator(request)
    problem = _reason(request, reason) if chosen else t("identity.choose_identities")
    if problem is None:
        try:
            done = identity.split_identities(session, cid, chosen, actor=user.principal.actor, reason=reason.strip())
            return redirect(request, f"/customers/{done['new_customer_id']}")
        except (ValidationFailed, NotFound) as exc:
            problem = error_text(t, exc)
    return detail_page(request, session, user, cid, status=422, merge_errors={"split": problem})
