"""Identity graph over HTTP: explain, merge, unmerge, split, and the review queue."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal, audit
from siyu.domains.access.deps import get_session, identity_context, require_reader
from siyu.domains.identity import service
from siyu.domains.identity.schemas import MergeIn, ResolveIssueIn, SplitIn, UnmergeIn
from siyu.errors import Forbidden

router = APIRouter(tags=["identity"])


def _operator(principal: Principal) -> Principal:
    if principal.role not in ("admin", "operator"):
        raise Forbidden("only admins and operators may change the identity graph", code="forbidden_role")
    return principal


@router.get("/customers/{customer_id}/identity-graph")
def identity_graph(customer_id: int, request: Request, session: Session = Depends(get_session, scope="function"),
                   principal: Principal = Depends(require_reader)) -> dict[str, Any]:
    """Explain why each identity belongs to this customer: links with their causing facts, merges, blocks."""
    if principal.scoped_staff_id is not None:
        raise Forbidden("staff users cannot open the identity graph", code="forbidden_role")
    doc = service.graph(session, identity_context(request), customer_id, unmasked=principal.can_read_pii)
    if principal.can_read_pii:
        audit(session, principal.actor, "pii.read", "customer", doc["customer_id"], {"view": "identity-graph"},
              getattr(request.state, "request_id", None))
    return doc


@router.post("/customers/{customer_id}/merge")
def merge(customer_id: int, body: MergeIn, request: Request, session: Session = Depends(get_session, scope="function"),
          principal: Principal = Depends(require_reader)) -> dict[str, Any]:
    """Merge another customer into this one (the older id survives)."""
    _operator(principal)
    return service.merge_customers(session, identity_context(request), customer_id, body.other_customer_id,
                                   actor=principal.actor, reason=body.reason, force=body.force)


@router.post("/customers/{customer_id}/unmerge")
def unmerge(customer_id: int, body: UnmergeIn, session: Session = Depends(get_session, scope="function"),
            principal: Principal = Depends(require_reader)) -> dict[str, Any]:
    """Undo a merge of this customer; the pair is blocked from re-linking."""
    _operator(principal)
    return service.undo_merge(session, body.merge_id, actor=principal.actor, reason=body.reason,
                              customer_id=customer_id)


@router.post("/customers/{customer_id}/split")
def split(customer_id: int, body: SplitIn, session: Session = Depends(get_session, scope="function"),
          principal: Principal = Depends(require_reader)) -> dict[str, Any]:
    """Move identities and the facts they carried into a new customer."""
    _operator(principal)
    return service.split_identities(session, customer_id, body.identity_ids, actor=principal.actor, reason=body.reason)


@router.get("/identity-issues")
def issues(session: Session = Depends(get_session, scope="function"), principal: Principal = Depends(require_reader),
           status: Literal["open", "resolved", "dismissed", "all"] = Query("open"),
           category: Literal["junk", "conflict", "blocked"] | None = Query(None),
           limit: int = Query(50, ge=1, le=200), before: int | None = Query(None)) -> dict[str, Any]:
    """List the review queue: refused junk values and blocked merges."""
    _operator(principal)
    items = service.list_issues(session, status=None if status == "all" else status, category=category,
                                limit=limit + 1, before=before)  # one more tells whether another page exists
    page = items[:limit]
    return {"items": page, "next_cursor": page[-1]["id"] if len(items) > limit else None}


@router.post("/identity-issues/{issue_id}/resolve")
def resolve_issue(issue_id: int, body: ResolveIssueIn, session: Session = Depends(get_session, scope="function"),
                  principal: Principal = Depends(require_reader)) -> dict[str, Any]:
    """Close a review entry with a note."""
    _operator(principal)
    return service.resolve_issue(session, issue_id, actor=principal.actor, resolution=body.resolution,
                                 status=body.status)
