"""HTTP: the content library, render previews, smart-push recommendations and metrics (/api/v1/content).

Reading needs a reader; changing needs an admin-scoped key or an admin or operator user. Staff users
may ask for recommendations and previews only for customers they follow. Templates are checked on
save (422 ``invalid_template`` with the line).
"""

from __future__ import annotations

import random

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_session, require_editor, require_reader
from siyu.domains.content import metrics, service
from siyu.domains.content.recommend import group_customer_ids
from siyu.domains.content.recommend import recommend as choose_content
from siyu.domains.content.render import FIELDS, render
from siyu.domains.content.schemas import (CandidateOut, CollectionIn, CollectionList, CollectionOut, ItemIn, ItemList,
                                          ItemOut, ItemPatch, MetricsOut, RecommendOut, RenderIn, RenderOut,
                                          ScorePartsOut, VariantIn, VariantOut)
from siyu.domains.customers.service import visible_customer
from siyu.domains.segments import service as segments
from siyu.errors import ValidationFailed
from siyu.kit.crypto import PiiVault

router = APIRouter(prefix="/content", tags=["content"])


def _item_out(view: service.ItemView) -> ItemOut:
    i = view.item
    return ItemOut(id=i.id, kind=i.kind, title=i.title, body=i.body, url=i.url, media_id=i.media_id, meta=i.meta or {},
                   topics=i.topics or [], products=i.products or [], stages=i.stages or [],
                   audiences=i.audiences or [], status=i.status, created_by=i.created_by, created_at=i.created_at,
                   updated_at=i.updated_at,
                   variants=[VariantOut(id=v.id, name=v.name, title=v.title, body=v.body, weight=v.weight)
                             for v in view.variants])


def _collection_out(row: object, items: list[int]) -> CollectionOut:
    return CollectionOut(id=row.id, name=row.name, description=row.description, items=items)  # type: ignore[attr-defined]


@router.get("", response_model=ItemList)
def list_items(kind: str | None = None, status: str | None = "active", topic: str | None = None, q: str | None = None,
               limit: int = Query(200, ge=1, le=500), session: Session = Depends(get_session, scope="function"),
               _: Principal = Depends(require_reader)) -> ItemList:
    """List content items newest first (filters: kind, status, topic, title text)."""
    return ItemList(items=[_item_out(v) for v in service.list_items(session, kind=kind, status=status or None,
                                                                    topic=topic, q=q, limit=limit)])


@router.post("", response_model=ItemOut, status_code=201)
def create_item(body: ItemIn = Body(...), session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_editor)) -> ItemOut:
    """Create a content item (its body template is checked)."""
    row = service.create_item(session, body, actor=principal.actor)
    return _item_out(service.ItemView(row))


@router.post("/render", response_model=RenderOut)
def render_preview(request: Request, body: RenderIn = Body(...), session: Session = Depends(get_session, scope="function"),
                   principal: Principal = Depends(require_reader)) -> RenderOut:
    """Render a body, an item or a variant for a customer or for sample values."""
    vault = PiiVault(request.app.state.settings.effective_secret_key)
    if body.customer_id is not None:
        visible_customer(session, principal, body.customer_id)
    if body.content_id is None:
        if body.body is None:
            raise ValidationFailed("give a body or a content_id", code="nothing_to_render")
        values = service.customer_values(session, vault, body.customer_id, reveal=principal.can_read_pii) \
            if body.customer_id is not None else {}
        values.update(body.values)
        return RenderOut(text=render(body.body, values, html=body.html), fields=list(FIELDS))
    view = service.item_view(session, body.content_id)
    variant = service.named_variant(view, body.variant)
    text = service.render_for(session, vault, view.item, variant, body.customer_id, body.values,
                              reveal=principal.can_read_pii)
    return RenderOut(text=text, fields=list(FIELDS))


@router.get("/recommend", response_model=RecommendOut)
def recommend_item(customer_id: int | None = None, group_id: int | None = None, collection: str | None = None,
                   recent_days: int = Query(14, ge=0, le=365), seed: int | None = None,
                   session: Session = Depends(get_session, scope="function"),
                   principal: Principal = Depends(require_reader)) -> RecommendOut:
    """Choose the content for a customer or a group, with every candidate's score parts."""
    if (customer_id is None) == (group_id is None):
        raise ValidationFailed("give exactly one of customer_id and group_id", code="invalid_audience")
    if customer_id is not None:
        ids = [visible_customer(session, principal, customer_id).id]
    else:
        ids = group_customer_ids(session, group_id)  # type: ignore[arg-type]
    ref: int | str | None = int(collection) if collection and collection.isdigit() else collection
    choice = choose_content(session, ids, collection=ref, recent_days=recent_days,
                          rng=random.Random(seed) if seed is not None else None)
    return RecommendOut(content_id=choice.content_id, title=choice.title, segment=choice.segment, candidates=[
        CandidateOut(content_id=c.content_id, title=c.title, excluded=c.excluded,
                     parts=ScorePartsOut(**vars(c.parts)) if c.parts else None) for c in choice.candidates])


@router.get("/collections", response_model=CollectionList)
def list_collections(session: Session = Depends(get_session, scope="function"),
                     _: Principal = Depends(require_reader)) -> CollectionList:
    """List content collections with their items in order."""
    return CollectionList(items=[_collection_out(c, ids) for c, ids in service.list_collections(session)])


@router.post("/collections", response_model=CollectionOut, status_code=201)
def create_collection(body: CollectionIn = Body(...), session: Session = Depends(get_session, scope="function"),
                      principal: Principal = Depends(require_editor)) -> CollectionOut:
    """Create a collection of items."""
    row = service.create_collection(session, body.name, body.description, body.items, actor=principal.actor)
    return _collection_out(*service.get_collection(session, row.id))


@router.put("/collections/{collection_id}/items", response_model=CollectionOut)
def replace_collection_items(collection_id: int, items: list[int] = Body(..., embed=True, max_length=500),
                             session: Session = Depends(get_session, scope="function"),
                             _: Principal = Depends(require_editor)) -> CollectionOut:
    """Replace a collection's items (in the given order)."""
    row, _old = service.get_collection(session, collection_id)
    service.set_collection_items(session, row.id, items)
    return _collection_out(*service.get_collection(session, row.id))


@router.get("/{content_id}", response_model=ItemOut)
def get_item(content_id: int, session: Session = Depends(get_session, scope="function"),
             _: Principal = Depends(require_reader)) -> ItemOut:
    """Return one item with its variants."""
    return _item_out(service.item_view(session, content_id))


@router.patch("/{content_id}", response_model=ItemOut)
def update_item(content_id: int, body: ItemPatch = Body(...), session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_editor)) -> ItemOut:
    """Change an item (archive it with status archived)."""
    service.update_item(session, content_id, body, actor=principal.actor)
    return _item_out(service.item_view(session, content_id))


@router.post("/{content_id}/variants", response_model=VariantOut, status_code=201)
def add_variant(content_id: int, body: VariantIn = Body(...), session: Session = Depends(get_session, scope="function"),
                principal: Principal = Depends(require_editor)) -> VariantOut:
    """Add an A/B variant to an item."""
    v = service.add_variant(session, content_id, body, actor=principal.actor)
    return VariantOut(id=v.id, name=v.name, title=v.title, body=v.body, weight=v.weight)


@router.get("/{content_id}/metrics", response_model=MetricsOut)
def item_metrics(content_id: int, by: str = "variant", window_days: int = 7, segment: list[str] = Query([]),
                 session: Session = Depends(get_session, scope="function"),
                 principal: Principal = Depends(require_reader)) -> MetricsOut:
    """Return an item's sent, delivered, clicked and converted counts, by variant, stage or segment."""
    service.get_item(session, content_id)
    if by == "segment" and not segment:
        raise ValidationFailed("by=segment needs one or more segment=<name or id>", code="segment_required")
    members = {}
    for ref in segment:
        seg = segments.get_segment(session, int(ref) if ref.isdigit() else ref)
        members[seg.name] = set(segments.member_ids(session, seg.id, principal))
    return metrics.item_metrics(session, content_id, window_days=window_days, by=by, segments=members)
