"""POST /events and /orders: batches of up to 1,000 facts, acknowledged only once durable."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from siyu.db.engine import unit_of_work
from siyu.domains.access import Principal
from siyu.domains.ingest import service
from siyu.domains.ingest.schemas import EventBatch, IngestResult, OrderBatch
from siyu.errors import ValidationFailed
from siyu.domains.access.deps import identity_context, require_scope

router = APIRouter(tags=["ingest"])


def _context(request: Request) -> service.IngestContext:
    ctx = getattr(request.app.state, "ingest_context", None)
    if ctx is None:
        ctx = request.app.state.ingest_context = service.IngestContext(request.app.state.settings,
                                                                       identity_context(request))
    return ctx


async def _items(request: Request, key: str) -> list[Any]:
    body = await request.body()
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"request body is not valid JSON: {exc}", code="malformed_json", status=400) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise ValidationFailed(f'body must be a JSON object {{"{key}": [...]}}', code="invalid_batch")
    extra = sorted(set(doc) - {key})
    if extra:
        raise ValidationFailed(f"unknown top-level fields: {', '.join(extra)}", code="unknown_field")
    return doc[key]


def _run_events(request: Request, items: list[Any]) -> IngestResult:
    ctx = _context(request)
    prepared = service.prepare_events(ctx, items)  # validation runs before the write lock is taken
    with unit_of_work(request.app.state.engine) as session:  # committed before the response is sent
        return service.write_events(session, ctx, prepared)


def _run_orders(request: Request, items: list[Any]) -> IngestResult:
    with unit_of_work(request.app.state.engine) as session:  # committed before the response is sent
        return service.ingest_orders(session, _context(request), items)


def _schema(model: type) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


@router.post("/events", response_model=IngestResult, openapi_extra=_schema(EventBatch),
             summary="Ingest a batch of events")
async def post_events(request: Request, _p: Principal = Depends(require_scope("ingest"))) -> IngestResult:
    """Store events once each (idempotent by event_id); resolve identities; report per-item rejections."""
    items = await _items(request, "events")
    service.check_batch_size(len(items), request.app.state.settings.max_batch)
    return await run_in_threadpool(_run_events, request, items)


@router.post("/orders", response_model=IngestResult, openapi_extra=_schema(OrderBatch),
             summary="Ingest a batch of order facts")
async def post_orders(request: Request, _p: Principal = Depends(require_scope("ingest"))) -> IngestResult:
    """Store order facts once each (idempotent by order_id + status + refund_id)."""
    items = await _items(request, "orders")
    service.check_batch_size(len(items), request.app.state.settings.max_batch)
    return await run_in_threadpool(_run_orders, request, items)

OPENAPI_MODELS = [EventBatch, OrderBatch]
