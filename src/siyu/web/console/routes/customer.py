"""Customer 360: profile, identities and their merge graph, owners, tags, groups, orders, notes, timeline;
and one order of the customer with its lines and history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.access.deps import identity_context
from siyu.domains.channel_codes import service as channel_codes
from siyu.domains.customers import followup, orders
from siyu.domains.customers import service as customers
from siyu.domains.customers.schemas import CustomerDetail
from siyu.domains.identity import service as identity
from siyu.domains.scores import service as scores
from siyu.domains.staff import service as staff
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import page, request_id
from siyu.web.deps import get_session

router = APIRouter()
TIMELINE_PAGE = 30
ORDERS_SHOWN = 20


def graph_chart(graph: dict[str, Any]) -> dict[str, Any]:
    """Return the identity graph as ECharts graph data: identities as nodes, links as edges."""
    nodes = [{"id": str(i["id"]), "name": f"{i['kind']}: {i['value']}", "category": i["kind"]}
             for i in graph["identities"]]
    known = {n["id"] for n in nodes}
    links = [{"source": str(link["a"]), "target": str(link["b"]), "cause": link["cause"]["type"]}
             for link in graph["links"] if str(link["a"]) in known and str(link["b"]) in known]
    return {"nodes": nodes, "links": links, "categories": sorted({n["category"] for n in nodes})}


def _code_names(session: Session, detail: CustomerDetail) -> dict[int, str]:
    ids = {o.channel_code_id for o in detail.owners if o.channel_code_id}
    if detail.source.channel_code_id:
        ids.add(detail.source.channel_code_id)
    return channel_codes.code_names(session, ids)


def load_360(request: Request, session: Session, user: ConsoleUser, customer_id: int) -> dict[str, Any]:
    """Return everything the 360 page shows of a customer the user may see (404 otherwise)."""
    principal = user.principal
    detail = customers.get_customer(session, identity_context(request), principal, customer_id,
                                    request_id=request_id(request))
    graph = None
    if user.can("identity.view"):
        graph = identity.graph(session, identity_context(request), detail.id, unmasked=principal.can_read_pii)
    return {
        "c": detail, "graph": graph, "graph_chart": graph_chart(graph) if graph else None,
        "code_names": _code_names(session, detail),
        "orders": customers.customer_orders(session, principal, detail.id, limit=ORDERS_SHOWN),
        "notes": followup.list_notes(session, principal, detail.id),
        "timeline": customers.customer_timeline(session, principal, detail.id, limit=TIMELINE_PAGE),
        "scores": scores.customer_scores(session, principal, detail.id),
    }


@router.get("/customers/{customer_id}")
def customer_page(customer_id: int, request: Request, user: ConsoleUser = Depends(require("customers.view")),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    """Show one customer's whole story on one page."""
    return detail_page(request, session, user, customer_id)


def detail_page(request: Request, session: Session, user: ConsoleUser, customer_id: int, *, status: int = 200,
                **form_state: Any) -> Response:
    """Render the 360 page, with the errors and typed values of a form that failed, if any."""
    state = {"tag_errors": {}, "tag_value": "", "note_errors": {}, "note_values": {}, "merge_errors": {},
             "merge_values": {}, "transfer_errors": {}, **form_state}
    data = load_360(request, session, user, customer_id)
    if user.can("staff.manage"):
        data["staff_choices"] = staff.list_staff(session, status="active", limit=200).items
    return page(request, "customer/detail.html", status=status, cid=data["c"].id, editable=user.can("customers.edit"),
                **state, **data)


@router.get("/customers/{customer_id}/timeline")
def timeline_more(customer_id: int, request: Request, before: str = Query(..., max_length=64),
                  user: ConsoleUser = Depends(require("customers.view")),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    """Return the next, older timeline items (an HTMX fragment)."""
    timeline = customers.customer_timeline(session, user.principal, customer_id, before=before, limit=TIMELINE_PAGE)
    return page(request, "customer/_timeline_items.html", cid=timeline.customer_id, timeline=timeline)


@router.get("/customers/{customer_id}/orders/{order_id:path}")
def order_page(customer_id: int, order_id: str, request: Request, user: ConsoleUser = Depends(require("customers.view")),
               session: Session = Depends(get_session, scope="function")) -> Response:
    """Show one order of the customer: its lines and every state, with the lines a refund named."""
    return page(request, "customer/order.html", o=orders.customer_order(session, user.principal, customer_id, order_id))
