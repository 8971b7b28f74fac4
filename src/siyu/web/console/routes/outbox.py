"""The outbox pages: what customers were (and were not) sent, and why; the do-not-contact list.

``/outbox`` shows the counts by status and by reason and the newest messages (filtered by status,
reason, customer); ``/outbox/do-not-contact`` lists opt-outs (do-not-contact and unsubscribes) and
lets admins and operators add and remove entries. Both read and write through the outbox service.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.outbox import service as outbox
from siyu.errors import SiyuError
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, form_values, page, redirect, translator
from siyu.web.deps import get_session

router = APIRouter()
PAGE_SIZE = 100


@router.get("/outbox")
def outbox_page(request: Request, status: str = Query("", max_length=16), reason: str = Query("", max_length=48),
                customer: int | None = Query(None, ge=1), _user: ConsoleUser = Depends(require("outbox.view")),
                session: Session = Depends(get_session, scope="function")) -> Response:
    """Show the outbox: counts by status and reason, and the newest messages with their reasons."""
    status = status if status in outbox.STATUSES else ""
    by_status, by_reason = outbox.counts(session)
    messages = outbox.list_messages(session, status=status or None, reason=reason or None, customer_id=customer,
                                    limit=PAGE_SIZE)
    return page(request, "outbox/index.html", statuses=outbox.STATUSES, by_status=by_status,
                by_reason=sorted(by_reason.items()), messages=messages,
                values={"status": status, "reason": reason, "customer": customer or ""})


def _dnc_page(request: Request, session: Session, *, errors: dict[str, str] | None = None,
              values: dict[str, Any] | None = None, status: int = 200) -> Response:
    scope = request.query_params.get("scope", "")
    entries = outbox.list_opt_outs(session, scope=scope if scope in outbox.OPT_OUT_SCOPES else None, limit=500)
    return page(request, "outbox/dnc.html", entries=entries, errors=errors or {}, values=values or {}, status=status,
                scope=scope, done=request.query_params.get("done", ""))


@router.get("/outbox/do-not-contact")
def dnc_page(request: Request, _user: ConsoleUser = Depends(require("outbox.view")),
             session: Session = Depends(get_session, scope="function")) -> Response:
    """List the do-not-contact entries and unsubscribes."""
    return _dnc_page(request, session)


@router.post("/outbox/do-not-contact")
async def dnc_add(request: Request, user: ConsoleUser = Depends(require("outbox.edit")),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    """Add a do-not-contact entry (or an unsubscribe) for a customer."""
    values = await form_values(request, strip=True)
    try:
        customer = int(values.get("customer_id", ""))
    except ValueError:
        return _dnc_page(request, session, errors={"customer_id": translator(request)("outbox.dnc.bad_customer")},
                         values=values, status=422)
    try:
        outbox.add_opt_out(session, customer_id=customer, channel=values.get("channel") or "*",
                           scope=values.get("scope") or "all", source=f"operator:{user.principal.actor}",
                           note=values.get("note") or None)
    except SiyuError as exc:
        session.rollback()
        return _dnc_page(request, session, errors={"form": error_text(translator(request), exc)}, values=values,
                         status=422)
    return redirect(request, "/outbox/do-not-contact?done=added")


@router.post("/outbox/do-not-contact/{entry_id}/remove")
def dnc_remove(entry_id: int, request: Request, _user: ConsoleUser = Depends(require("outbox.edit")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """Remove a do-not-contact entry or unsubscribe."""
    outbox.remove_opt_out(session, entry_id)
    return redirect(request, "/outbox/do-not-contact?done=removed")
