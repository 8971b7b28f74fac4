"""Customer API: profile, lookup by identity, filtered listing, timeline, profile edits.

A merged id answers 200 with the live survivor's profile (``id`` = survivor, ``merged_into`` set),
not a redirect, so clients holding old ids keep working with one round trip. Staff users see only
customers they actively follow; any other id is 404 ``not_found``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, identity_context, require_reader
from siyu.domains.customers import orders, service
from siyu.domains.customers.activity import parse_activity
from siyu.domains.customers.schemas import ACTIVITIES, CustomerDetail, CustomerPage, OrderDetailOut, ProfileUpdate, TimelinePage
from siyu.domains.identity.service import IdentityContext

router = APIRouter(prefix="/customers", tags=["customers"])


def _ctx(request: Request) -> IdentityContext:
    return identity_context(request)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("", response_model=CustomerPage)
def list_customers(
    identity: str | None = Query(None, description="Exact identity, kind:value (e.g. phone:13812345678)."),
    name: str | None = Query(None, description="Exact name."),
    owner: str | None = Query(None, description="Staff userid actively following the customer."),
    tag: str | None = Query(None, description="Tag name the customer holds."),
    channel_code: int | None = Query(None, description="Channel code id the customer was added through."),
    group: str | None = Query(None, description="chat_id of a group the customer is in."),
    source: str | None = Query(None, description="First-touch source platform."),
    added_from: str | None = Query(None, description="first_seen_at >= this ISO-8601 time."),
    added_to: str | None = Query(None, description="first_seen_at < this ISO-8601 time."),
    activity: str | None = Query(None, description="Customers who did this on days activity_from..activity_to: "
                                 + ", ".join(ACTIVITIES) + " (connected: in the private domain at the end of "
                                 "activity_to)."),
    activity_from: str | None = Query(None, description="First day (YYYY-MM-DD, the brand's calendar)."),
    activity_to: str | None = Query(None, description="Last day, included."),
    activity_staff: str | None = Query(None, description="contact_added / contact_deleted: only this staff userid."),
    activity_code: str | None = Query(None, description="contact_added: only through this channel code id "
                                      "(- for none)."),
    activity_group: str | None = Query(None, description="group_joined / group_left: only this chat_id."),
    cursor: int | None = Query(None, description="next_cursor of the previous page."),
    limit: int = Query(50, ge=1, le=200),
    *,
    request: Request,
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(require_reader),
    ctx: IdentityContext = Depends(_ctx),
) -> CustomerPage:
    """List live customers newest first, filtered; names are masked."""
    did = parse_activity(request.app.state.settings.tz, activity, activity_from, activity_to, staff=activity_staff,
                         code=activity_code, group=activity_group, moves=request.app.state.customer_moves)
    flt = service.parse_filter(ctx, identity=identity, name=name, owner=owner, tag=tag, channel_code=channel_code,
                               group=group, source=source, added_from=added_from, added_to=added_to, activity=did)
    return service.list_customers(session, principal, flt, cursor=cursor, limit=limit)


@router.get("/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: int, request: Request, session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(require_reader),
                 ctx: IdentityContext = Depends(_ctx)) -> CustomerDetail:
    """Return one customer's profile, identities, owners, tags, groups and order summary."""
    return service.get_customer(session, ctx, principal, customer_id, request_id=_request_id(request))


@router.patch("/{customer_id}", response_model=CustomerDetail)
def update_customer(customer_id: int, request: Request, body: ProfileUpdate = Body(...),
                    session: Session = Depends(get_session, scope="function"), principal: Principal = Depends(require_reader),
                    ctx: IdentityContext = Depends(_ctx)) -> CustomerDetail:
    """Change profile fields (omitted stay, null clears, attributes merge) and return the profile."""
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    return service.update_customer(session, ctx, principal, customer_id, fields, request_id=_request_id(request))


@router.get("/{customer_id}/timeline", response_model=TimelinePage)
def timeline(customer_id: int, request: Request, before: str | None = Query(None, description="next_before of the previous page, "
                                                                            "or an ISO-8601 time."),
             limit: int = Query(50, ge=1, le=200), session: Session = Depends(get_session, scope="function"),
             principal: Principal = Depends(require_reader)) -> TimelinePage:
    """Return the customer's events and order facts, newest first."""
    return service.customer_timeline(session, principal, customer_id, before=before, limit=limit,
                                     request_id=_request_id(request))


@router.get("/{customer_id}/orders/{order_id}", response_model=OrderDetailOut)
def get_order(customer_id: int, order_id: str, session: Session = Depends(get_session, scope="function"),
              principal: Principal = Depends(require_reader)) -> OrderDetailOut:
    """Return one order of the customer: current state, lines, and every state with the lines it named."""
    return orders.customer_order(session, principal, customer_id, order_id)
