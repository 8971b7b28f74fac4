"""HTTP: tags, tag groups, rule tags, holds and interests (/api/v1/tags). Thin over the services.

Reading needs a reader; changing needs an admin-scoped key or an admin or operator user. Staff users
may read, and apply or remove tags only on customers they follow. A rule tag's rule is checked like
a segment's (422 ``invalid_rule`` with the path of each bad node).
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_editor, require_reader
from siyu.domains.customers.service import visible_customer
from siyu.domains.segments import service as segments
from siyu.domains.tags import service
from siyu.domains.tags.schemas import (CountOut, CustomersIn, GroupIn, GroupList, GroupOut, GroupPatch, HoldList,
                                       HoldOut, InterestList, InterestOut, RuleIn, RuleTagIn, TagIn, TagList, TagOut,
                                       TagPatch)

router = APIRouter(prefix="/tags", tags=["tags"])


def _out(view: service.TagView) -> TagOut:
    t = view.tag
    return TagOut(id=t.id, name=t.name, group=t.group_name, kind=t.kind, holders=view.holders,
                  rule=view.rule.rule if view.rule else None, refreshed_at=view.rule.refreshed_at if view.rule else None)


def _view(session: Session, name: str) -> TagOut:
    tag = service.get_tag(session, name)
    return next(_out(v) for v in service.describe_tags(session) if v.tag.id == tag.id)


@router.get("", response_model=TagList)
def list_tags(kind: str | None = None, session: Session = Depends(get_session, scope="function"),
              _: Principal = Depends(require_reader)) -> TagList:
    """List tags by group with how many customers hold each now (and rule tags' rules)."""
    return TagList(items=[_out(v) for v in service.describe_tags(session, kind=kind)])


@router.post("", response_model=TagOut, status_code=201)
def create_tag(body: TagIn = Body(...), session: Session = Depends(get_session, scope="function"),
               principal: Principal = Depends(require_editor)) -> TagOut:
    """Create a manual tag in a group."""
    tag = service.create_tag(session, body.name, group_name=body.group, actor=principal.actor)
    return _view(session, tag.name)


@router.post("/rules", response_model=TagOut, status_code=201)
def create_rule_tag(request: Request, body: RuleTagIn = Body(...), session: Session = Depends(get_session, scope="function"),
                    principal: Principal = Depends(require_editor)) -> TagOut:
    """Create a rule tag: held while its condition holds, kept current like a segment."""
    tag = segments.create_rule_tag(session, name=body.name, rule=body.rule, group=body.group, actor=principal.actor,
                                   tz=request.app.state.settings.tz)
    return _view(session, tag.name)


@router.put("/{name}/rule", response_model=TagOut)
def replace_rule(name: str, request: Request, body: RuleIn = Body(...),
                 session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(require_editor)) -> TagOut:
    """Replace a rule tag's rule; it is re-evaluated at once."""
    segments.update_rule_tag(session, name, body.rule, actor=principal.actor, tz=request.app.state.settings.tz)
    return _view(session, name)


@router.patch("/{name}", response_model=TagOut)
def move_tag(name: str, body: TagPatch = Body(...), session: Session = Depends(get_session, scope="function"),
             principal: Principal = Depends(require_editor)) -> TagOut:
    """Move a tag to another group."""
    service.move_tag(session, name, body.group, actor=principal.actor)
    return _view(session, name)


@router.get("/groups", response_model=GroupList)
def list_groups(session: Session = Depends(get_session, scope="function"),
                _: Principal = Depends(require_reader)) -> GroupList:
    """List tag groups with their number of tags."""
    return GroupList(items=[GroupOut(name=g.name, exclusive=g.exclusive, tags=g.tags) for g in service.list_groups(session)])


@router.post("/groups", response_model=GroupOut, status_code=201)
def create_group(body: GroupIn = Body(...), session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(require_editor)) -> GroupOut:
    """Create a tag group (exclusive: a customer holds at most one of its tags)."""
    g = service.create_group(session, body.name, exclusive=body.exclusive, actor=principal.actor)
    return GroupOut(name=g.name, exclusive=g.exclusive, tags=g.tags)


@router.patch("/groups/{name}", response_model=GroupList)
def rename_group(name: str, body: GroupPatch = Body(...), session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(require_editor)) -> GroupList:
    """Rename a tag group (its tags follow)."""
    service.rename_group(session, name, body.name, actor=principal.actor)
    return list_groups(session, principal)


def _visible(session: Session, principal: Principal, ids: list[int]) -> list[int]:
    return sorted({visible_customer(session, principal, cid).id for cid in ids})


@router.post("/{name}/customers", response_model=CountOut)
def apply_tag(name: str, body: CustomersIn = Body(...), session: Session = Depends(get_session, scope="function"),
              principal: Principal = Depends(require_reader)) -> CountOut:
    """Put a manual tag on customers (staff users: their own); audited."""
    ids = _visible(session, principal, body.customer_ids)
    return CountOut(changed=service.apply_to_customers(session, name, ids, actor=principal.actor))


@router.post("/{name}/customers/remove", response_model=CountOut)
def remove_tag(name: str, body: CustomersIn = Body(...), session: Session = Depends(get_session, scope="function"),
               principal: Principal = Depends(require_reader)) -> CountOut:
    """Take a tag off customers (staff users: their own); audited."""
    ids = _visible(session, principal, body.customer_ids)
    return CountOut(changed=service.remove_from_customers(session, name, ids, actor=principal.actor))


@router.get("/{name}/history", response_model=HoldList)
def history(name: str, customer_id: int | None = None, session: Session = Depends(get_session, scope="function"),
            principal: Principal = Depends(require_reader)) -> HoldList:
    """List holds of a tag (when each was gained and lost), newest first; staff users: one of their customers."""
    if customer_id is not None:
        visible_customer(session, principal, customer_id)
    elif principal.scoped_staff_id is not None:
        customer_id = -1  # a staff user names the customer; the whole history is for everyone else
    return HoldList(items=[HoldOut.model_validate(h) for h in service.tag_history(session, name, customer_id=customer_id)])


@router.get("/interests/{customer_id}", response_model=InterestList)
def interests(customer_id: int, session: Session = Depends(get_session, scope="function"),
              principal: Principal = Depends(require_reader)) -> InterestList:
    """Show a customer's content-interest scores, highest first."""
    customer = visible_customer(session, principal, customer_id)
    rows = service.interest_scores(session, [customer.id])
    return InterestList(customer_id=customer.id, items=[InterestOut(topic=r.topic, score=r.score,
                                                                    computed_at=r.computed_at) for r in rows])
