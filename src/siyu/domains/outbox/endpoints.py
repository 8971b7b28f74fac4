"""HTTP: the outbox (/api/v1/outbox) for admin keys and users, and the public one-click unsubscribe link.

Messages with their status and reason, counts, the do-not-contact list and unsubscribes, inbound
replies checked for unsubscribe keywords, and the messaging policy (caps, quiet hours, limits).
``public_router`` serves ``/unsubscribe/{token}``: GET shows a confirmation page with a button and
changes nothing (mail scanners prefetch links); POST, the RFC 8058 one-click request mail clients
send (``List-Unsubscribe-Post``) or the button, unsubscribes.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_scope
from siyu.domains.outbox import service
from siyu.domains.outbox.models import DoNotContact, OutboxMessage
from siyu.domains.outbox.schemas import (CountsOut, MessageList, MessageOut, OptOutIn, OptOutList, OptOutOut,
                                         UnsubscribeIn, UnsubscribeOut)
from siyu.errors import SiyuError

router = APIRouter(prefix="/outbox", tags=["outbox"])
public_router = APIRouter(tags=["unsubscribe"])
admin = require_scope("admin")


def _message(m: OutboxMessage) -> MessageOut:
    return MessageOut(id=m.id, idempotency_key=m.idempotency_key, kind=m.kind, channel=m.channel, category=m.category,
                      customer_id=m.customer_id, source=m.source, status=m.status, reason=m.reason,
                      attempts=m.attempts, last_error=m.last_error, send_after=m.send_after, sent_at=m.sent_at,
                      provider_ref=m.provider_ref, created_at=m.created_at)


def _opt_out(e: DoNotContact) -> OptOutOut:
    return OptOutOut(id=e.id, customer_id=e.customer_id, channel=e.channel, scope=e.scope, source=e.source,
                     note=e.note, created_at=e.created_at)


@router.get("/messages", response_model=MessageList)
def list_messages(status: str | None = None, reason: str | None = None, kind: str | None = None,
                  customer_id: int | None = None, source: str | None = Query(None, description="A source prefix."),
                  limit: int | None = Query(None, ge=1, le=1000), session: Session = Depends(get_session, scope="function"),
                  _: Principal = Depends(admin)) -> MessageList:
    """List the newest outbox messages with their status and reason."""
    rows = service.list_messages(session, status=status, reason=reason, kind=kind, customer_id=customer_id,
                                 source=source, limit=limit)
    return MessageList(items=[_message(m) for m in rows])


@router.get("/counts", response_model=CountsOut)
def counts(session: Session = Depends(get_session, scope="function"), _: Principal = Depends(admin)) -> CountsOut:
    """Count messages by status, and by status and reason."""
    by_status, by_reason = service.counts(session)
    return CountsOut(by_status=by_status, by_reason=[{"status": s, "reason": r, "count": n}
                                                     for (s, r), n in sorted(by_reason.items())])


@router.get("/do-not-contact", response_model=OptOutList)
def list_opt_outs(scope: str | None = Query(None, description="all (do not contact) or marketing (unsubscribed)."),
                  customer_id: int | None = None, limit: int | None = Query(None, ge=1, le=1000),
                  session: Session = Depends(get_session, scope="function"), _: Principal = Depends(admin)) -> OptOutList:
    """List the do-not-contact entries and unsubscribes."""
    return OptOutList(items=[_opt_out(e) for e in service.list_opt_outs(session, scope=scope, customer_id=customer_id,
                                                                        limit=limit)])


@router.post("/do-not-contact", response_model=OptOutList, status_code=201)
def add_opt_out(body: OptOutIn, session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(admin)) -> OptOutList:
    """Put a customer on the do-not-contact list (or unsubscribe them from marketing) for a channel or all."""
    service.add_opt_out(session, customer_id=body.customer_id, channel=body.channel, scope=body.scope,
                        source=f"operator:{principal.actor}", note=body.note)
    return OptOutList(items=[_opt_out(e) for e in service.list_opt_outs(session, customer_id=body.customer_id)])


@router.delete("/do-not-contact/{entry_id}", status_code=204)
def remove_opt_out(entry_id: int, session: Session = Depends(get_session, scope="function"),
                   _: Principal = Depends(admin)) -> Response:
    """Remove a do-not-contact entry or unsubscribe."""
    service.remove_opt_out(session, entry_id)
    return Response(status_code=204)


@router.post("/inbound", response_model=UnsubscribeOut)
def inbound(body: UnsubscribeIn, session: Session = Depends(get_session, scope="function"),
            _: Principal = Depends(admin)) -> UnsubscribeOut:
    """Check an inbound reply for an unsubscribe keyword (退订, TD, unsubscribe) and opt the customer out."""
    return UnsubscribeOut(unsubscribed=service.handle_inbound_text(session, body.customer_id, body.channel, body.text))


@router.get("/policy")
def get_policy(session: Session = Depends(get_session, scope="function"), _: Principal = Depends(admin)) -> dict[str, Any]:
    """Return the messaging policy: caps, over-cap action, quiet hours, WeCom mass limit, retries, rates."""
    return service.load_policy(session).model_dump(mode="json")


@router.put("/policy")
def put_policy(body: dict[str, Any] = Body(...), session: Session = Depends(get_session, scope="function"),
               principal: Principal = Depends(admin)) -> dict[str, Any]:
    """Replace the messaging policy (fields left out take their defaults)."""
    return service.save_policy(session, body, actor=principal.actor).model_dump(mode="json")


def _page(title: str, text: str, status: int = 200, form: str | None = None) -> HTMLResponse:
    button = (f'<form method="post" action="{escape(form)}"><button type="submit">确认退订 Unsubscribe</button></form>'
              if form else "")
    return HTMLResponse(f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{escape(title)}</title>'
                        f'<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto"><h1>{escape(title)}</h1>'
                        f"<p>{escape(text)}</p>{button}</body></html>", status_code=status)


@public_router.get("/unsubscribe/{token}", include_in_schema=False)
def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    """Show the unsubscribe confirmation of a signed link (a GET changes nothing: mail scanners follow links)."""
    try:
        service.verify_unsubscribe_token(request.app.state.settings.effective_secret_key, token)
    except SiyuError:
        return _page("链接无效 Invalid link", "这个退订链接无效。This unsubscribe link is not valid.", 400)
    return _page("退订 Unsubscribe", "确认后您将不再收到我们的营销邮件。Confirm to stop receiving our marketing email.",
                 form=f"/unsubscribe/{token}")


@public_router.post("/unsubscribe/{token}", include_in_schema=False)
def unsubscribe(token: str, request: Request, session: Session = Depends(get_session, scope="function")) -> HTMLResponse:
    """Unsubscribe the customer a signed link names from marketing email (RFC 8058 one-click POST, or the form)."""
    try:
        service.unsubscribe_with_token(session, request.app.state.settings.effective_secret_key, token)
    except SiyuError:
        return _page("链接无效 Invalid link", "这个退订链接无效。This unsubscribe link is not valid.", 400)
    return _page("已退订 Unsubscribed", "您将不再收到我们的营销邮件。You will no longer receive marketing email from us.")
