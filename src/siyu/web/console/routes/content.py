"""Content pages (内容运营): the content library (list, add, edit, variants, preview render, metrics) and
mass messages (compose, preview counts, schedule, send, cancel).

Each form posts to its own action; a refused one re-renders the page with the error beside its field
(a template error names its line). Times are entered and shown in the brand's time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from siyu.domains import mass_messages
from siyu.domains.content import metrics
from siyu.domains.content import service as content
from siyu.domains.content.schemas import KINDS, STAGES, ItemIn, ItemPatch, VariantIn
from siyu.domains.mass_messages.schemas import MassIn
from siyu.domains.segments import service as segments
from siyu.errors import SiyuError, ValidationFailed
from siyu.kit.crypto import PiiVault
from siyu.kit.time import ensure_utc
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, form_values, page, redirect, translator
from siyu.web.deps import get_session

router = APIRouter()
SESSION = Depends(get_session, scope="function")


def _list(text: str) -> list[str]:
    return [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]


async def _form(request: Request) -> dict[str, str]:
    out = await form_values(request)
    out["stages"] = ",".join(str(v) for v in (await request.form()).getlist("stages"))
    return out


def _invalid(exc: ValidationError) -> ValidationFailed:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "title"
    return ValidationFailed(f"{field}: {first['msg']}", code="validation_error", field=field)


def _item_fields(values: dict[str, str]) -> dict[str, Any]:
    return {"title": values.get("title", ""), "body": values.get("body", ""), "url": values.get("url") or None,
            "topics": _list(values.get("topics", "")), "products": _list(values.get("products", "")),
            "audiences": _list(values.get("audiences", "")), "stages": _list(values.get("stages", ""))}


def _error(request: Request, exc: SiyuError) -> dict[str, str]:
    field = str(exc.details.get("field") or "title")
    return {field.split(".")[0]: error_text(translator(request), exc)}


def _library(request: Request, session: Session, *, errors: dict[str, str] | None = None,
             values: dict[str, str] | None = None, status: int = 200) -> Response:
    q = request.query_params
    items = content.list_items(session, kind=q.get("kind") or None, topic=q.get("topic") or None,
                               status=q.get("status", "active") or None)
    return page(request, "content/list.html", status=status, items=items, kinds=KINDS, stages=STAGES,
                errors=errors or {}, values=values or {"kind": "text"}, filters=dict(q))


@router.get("/content")
def library_page(request: Request, _user: ConsoleUser = Depends(require("content.view")),
                 session: Session = SESSION) -> Response:
    """List content items with filters and the form to add one."""
    return _library(request, session)


@router.post("/content")
async def add_item(request: Request, user: ConsoleUser = Depends(require("content.edit")),
                   session: Session = SESSION) -> Response:
    """Add a content item."""
    values = await _form(request)
    try:
        try:
            data = ItemIn(kind=values.get("kind", ""), **_item_fields(values))  # type: ignore[arg-type]
        except ValidationError as exc:
            raise _invalid(exc) from exc
        row = content.create_item(session, data, actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        return _library(request, session, errors=_error(request, exc), values=values, status=422)
    return redirect(request, f"/content/{row.id}?done=saved")


def _item_page(request: Request, session: Session, content_id: int, *, errors: dict[str, str] | None = None,
               values: dict[str, str] | None = None, rendered: str | None = None, status: int = 200) -> Response:
    view = content.item_view(session, content_id)
    i = view.item
    values = values or {"title": i.title, "body": i.body, "url": i.url or "", "topics": ", ".join(i.topics or []),
                        "products": ", ".join(i.products or []), "audiences": ", ".join(i.audiences or []),
                        "stages": ",".join(i.stages or [])}
    by = request.query_params.get("by", "variant") if request.query_params.get("by") in ("variant", "stage") else "variant"
    return page(request, "content/item.html", status=status, view=view, stages=STAGES, errors=errors or {},
                values=values, rendered=rendered, by=by, done=request.query_params.get("done"),
                metrics=metrics.item_metrics(session, content_id, by=by),
                link_base=f"{request.app.state.settings.public_url}/l/")


@router.get("/content/{content_id}")
def item_page(request: Request, content_id: int, _user: ConsoleUser = Depends(require("content.view")),
              session: Session = SESSION) -> Response:
    """Show an item: edit form, variants, preview and metrics."""
    return _item_page(request, session, content_id)


@router.post("/content/{content_id}")
async def edit_item(request: Request, content_id: int, user: ConsoleUser = Depends(require("content.edit")),
                    session: Session = SESSION) -> Response:
    """Change an item (or archive it with status=archived)."""
    values = await _form(request)
    try:
        try:
            fields = _item_fields(values) | ({"status": values["status"]} if values.get("status") else {})
            patch = ItemPatch(**fields)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        content.update_item(session, content_id, patch, actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        return _item_page(request, session, content_id, errors=_error(request, exc), values=values, status=422)
    return redirect(request, f"/content/{content_id}?done=saved")


@router.post("/content/{content_id}/variants")
async def add_variant(request: Request, content_id: int, user: ConsoleUser = Depends(require("content.edit")),
                      session: Session = SESSION) -> Response:
    """Add an A/B variant."""
    values = await _form(request)
    try:
        try:
            data = VariantIn(name=values.get("name", ""), body=values.get("variant_body", ""),
                             weight=int(values.get("weight") or 1))
        except (ValidationError, ValueError) as exc:
            raise ValidationFailed("name: letters, digits, - or _; weight: 0-1000", code="validation_error",
                                   field="variant") from exc
        content.add_variant(session, content_id, data, actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        return _item_page(request, session, content_id, errors={"variant": error_text(translator(request), exc)},
                          status=422)
    return redirect(request, f"/content/{content_id}?done=saved")


@router.post("/content/{content_id}/preview")
async def preview_item(request: Request, content_id: int, user: ConsoleUser = Depends(require("content.view")),
                       session: Session = SESSION) -> Response:
    """Render the item (or a variant) for a customer or with no customer's fields."""
    form = await request.form()
    raw, variant = str(form.get("customer_id", "")).strip(), str(form.get("variant", "")) or None
    try:
        view = content.item_view(session, content_id)
        customer = int(raw) if raw.isdigit() else None
        text = content.render_for(session, PiiVault(request.app.state.settings.effective_secret_key), view.item,
                                  content.named_variant(view, variant), customer,
                                  {"link": f"{request.app.state.settings.public_url}/l/preview"},
                                  reveal=user.principal.can_read_pii)
    except SiyuError as exc:
        return _item_page(request, session, content_id, errors={"preview": error_text(translator(request), exc)},
                          status=422)
    return _item_page(request, session, content_id, rendered=text)


# -- mass messages ------------------------------------------------------------------------------------

def _mass_page(request: Request, session: Session, *, errors: dict[str, str] | None = None,
               values: dict[str, str] | None = None, status: int = 200) -> Response:
    return page(request, "content/mass.html", status=status, messages=mass_messages.list_messages(session),
                items=content.list_items(session), segments=segments.list_segments(session), errors=errors or {},
                values=values or {"channel": "wecom", "audience_kind": "segment"},
                tz=request.app.state.settings.tz, done=request.query_params.get("done"))


def _local(raw: str, request: Request) -> datetime | None:
    if not raw.strip():
        return None
    try:
        return ensure_utc(datetime.fromisoformat(raw).replace(tzinfo=request.app.state.settings.tz))
    except ValueError as exc:
        raise ValidationFailed("send_at: a date and time", code="validation_error", field="send_at") from exc


def _audience(values: dict[str, str]) -> dict[str, Any]:
    kind, ref = values.get("audience_kind", "segment"), values.get("audience", "").strip()
    if kind == "segment":
        return {"segment": ref}
    return {kind: [int(x) for x in _list(ref) if x.isdigit()] or None}


@router.get("/mass")
def mass_page(request: Request, _user: ConsoleUser = Depends(require("mass.view")),
              session: Session = SESSION) -> Response:
    """List mass messages with the compose form."""
    return _mass_page(request, session)


@router.post("/mass")
async def compose(request: Request, user: ConsoleUser = Depends(require("mass.edit")),
                  session: Session = SESSION) -> Response:
    """Create a mass message (scheduled when a send time is given)."""
    values = await _form(request)
    try:
        try:
            data = MassIn(name=values.get("name", ""), audience=_audience(values),  # type: ignore[arg-type]
                          channel=values.get("channel", "wecom"),  # type: ignore[arg-type]
                          content_id=None if values.get("collection") else int(values.get("content_id") or 0),
                          collection=values.get("collection") or None, variant=values.get("variant") or None,
                          send_at=_local(values.get("send_at", ""), request))
        except ValidationError as exc:
            raise ValidationFailed(exc.errors()[0]["msg"], code="validation_error", field="audience") from exc
        row = mass_messages.create(session, data, actor=user.principal.actor)
    except SiyuError as exc:
        session.rollback()
        field = {"segment_not_found": "audience", "group_not_found": "audience", "staff_not_found": "audience",
                 "content_not_found": "content_id", "variant_not_found": "content_id",
                 "send_at_past": "send_at"}.get(exc.code, str(exc.details.get("field") or "audience"))
        return _mass_page(request, session, errors={field: error_text(translator(request), exc)}, values=values,
                          status=422)
    return redirect(request, f"/mass/{row.id}")


@router.get("/mass/{mass_id}")
def mass_item(request: Request, mass_id: int, user: ConsoleUser = Depends(require("mass.view")),
              session: Session = SESSION) -> Response:
    """Show a mass message with its preview counts and actions."""
    row = mass_messages.get(session, mass_id)
    preview = mass_messages.preview(session, mass_id, request.app.state.settings.tz, user.principal) \
        if row.status in ("draft", "scheduled") else None
    return page(request, "content/mass_item.html", m=row, preview=preview, tz=request.app.state.settings.tz,
                error=request.query_params.get("error", ""))


@router.post("/mass/{mass_id}/{action}")
async def mass_action(request: Request, mass_id: int, action: str, user: ConsoleUser = Depends(require("mass.edit")),
                      session: Session = SESSION) -> Response:
    """Schedule, send or cancel a mass message."""
    form = await request.form()
    actor = user.principal.actor
    try:
        if action == "schedule":
            when = _local(str(form.get("send_at", "")), request)
            if when is None:
                raise ValidationFailed("send_at: a date and time", code="validation_error", field="send_at")
            mass_messages.schedule(session, mass_id, when, actor=actor)
        elif action == "send":
            mass_messages.send(session, request.app.state.settings, mass_id, actor=actor, principal=user.principal)
        elif action == "cancel":
            mass_messages.cancel(session, mass_id, actor=actor)
        else:
            raise ValidationFailed("unknown action", code="not_found", status=404)
    except SiyuError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return redirect(request, f"/mass/{mass_id}?error={exc.code}")
    return redirect(request, f"/mass/{mass_id}")
