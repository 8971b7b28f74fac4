"""The staff sidebar: a phone-width page for the WeCom chat sidebar, for the staff member who owns the customer.

WeCom opens it with the chat's ``external_userid``. The customer is found through that identity and
then read as the logged-in staff user, so the same repository predicate that scopes every read
applies: a customer the staff member does not follow is "not found", exactly like an unknown id.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.access.deps import identity_context
from siyu.domains.content import recommend
from siyu.domains.customers import followup
from siyu.domains.customers import service as customers
from siyu.domains.identity import service as identity
from siyu.errors import NotFound
from siyu.domains.tasks import list_tasks
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import page, request_id
from siyu.web.deps import get_session

router = APIRouter()
ORDERS_SHOWN = 5
NOTES_SHOWN = 10
SUGGESTIONS_SHOWN = 3
TASKS_SHOWN = 10


@router.get("/sidebar/customer")
def sidebar_customer(request: Request, external_userid: str = Query("", max_length=256),
                     user: ConsoleUser = Depends(require("sidebar")),
                     session: Session = Depends(get_session, scope="function")) -> Response:
    """Show the portrait, tags, recent orders, notes and content suggestions of the customer in this chat."""
    ctx = identity_context(request)
    found = identity.find_customer(session, ctx, "external_userid", external_userid) if external_userid else None
    if found is None:
        raise NotFound("no customer of yours has this WeCom contact", code="customer_not_found")
    detail = customers.get_customer(session, ctx, user.principal, found, request_id=request_id(request))
    return page(request, "sidebar/customer.html", c=detail, cid=detail.id, editable=True,
                orders=customers.customer_orders(session, user.principal, detail.id, limit=ORDERS_SHOWN),
                notes=followup.list_notes(session, user.principal, detail.id, limit=NOTES_SHOWN),
                tags=detail.tags, tag_errors={}, tag_value="", note_errors={}, note_values={},
                suggestions=[c for c in recommend(session, [detail.id]).candidates if c.parts][:SUGGESTIONS_SHOWN],
                tasks=list_tasks(session, staff_id=user.principal.scoped_staff_id, customer_id=detail.id,
                                 status="open", limit=TASKS_SHOWN).items)
