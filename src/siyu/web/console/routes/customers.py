"""Customers list: one search box (name, phone or any kind:value identity), filters, keyset paging.

The search box is read as an identity when it holds ``kind:value`` or looks like a phone number,
else as an exact name; names and phones are found through their blind indexes, so no plaintext is
ever compared. Dates are days of the brand's calendar; "to" includes its whole day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData
from sqlalchemy.orm import Session

from siyu.domains.access.deps import identity_context
from siyu.domains.channel_codes import service as channel_codes
from siyu.domains.customers import export
from siyu.domains.customers import service as customers
from siyu.domains.customers.activity import parse_activity
from siyu.domains.customers.schemas import ACTIVITIES, CustomerFilter
from siyu.domains.staff import service as staff
from siyu.domains.tags import list_tags
from siyu.errors import ValidationFailed
from siyu.kit.time import day_bounds_utc, local_day, utcnow
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.i18n import Translator
from siyu.web.console.render import error_text, field_errors, is_htmx, page, request_id, translator
from siyu.web.deps import get_session

router = APIRouter()
PHONE_LIKE = re.compile(r"^\+?[\d\s()-]{7,24}$")
PAGE_SIZE = 50
FILTERS = ("q", "owner", "tag", "channel_code", "group", "source", "added_from", "added_to", "activity",
           "activity_from", "activity_to", "activity_staff", "activity_code", "activity_group")


@dataclass
class ListQuery:
    """The list's query as typed, and the errors found in it by field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def search_terms(q: str) -> dict[str, str]:
    """Return the listing filter a search-box text stands for: ``identity`` or ``name``."""
    text = q.strip()
    if not text:
        return {}
    if ":" in text:
        return {"identity": text}
    if PHONE_LIKE.match(text):
        return {"identity": f"phone:{text}"}
    return {"name": text}


def _day(raw: str) -> date | None:
    return date.fromisoformat(raw) if raw else None


def _dates(request: Request, q: ListQuery, t: Translator) -> tuple[datetime | None, datetime | None]:
    tz = request.app.state.settings.tz
    bounds: list[datetime | None] = []
    for name, edge in (("added_from", 0), ("added_to", 1)):
        try:
            day = _day(q.values[name])
        except ValueError:
            q.errors[name] = t("customers.bad_date")
            day = None
        bounds.append(day_bounds_utc(day, tz)[edge] if day else None)
    return bounds[0], bounds[1]


def build_filter(request: Request, q: ListQuery) -> CustomerFilter | None:
    """Validate the typed query into a listing filter; record errors beside their fields."""
    t = translator(request)
    added_from, added_to = _dates(request, q, t)
    code = q.values["channel_code"]
    if code and not code.isdigit():
        q.errors["channel_code"] = t("customers.bad_code")
    v = q.values
    try:
        did = parse_activity(request.app.state.settings.tz, v["activity"], v["activity_from"], v["activity_to"],
                             staff=v["activity_staff"], code=v["activity_code"], group=v["activity_group"],
                             moves=request.app.state.customer_moves)
    except ValidationFailed as exc:
        q.errors.update(field_errors(t, exc, "activity"))
        did = None
    try:
        flt = customers.parse_filter(identity_context(request), **search_terms(v["q"]), owner=v["owner"],
                                     tag=v["tag"], channel_code=int(code) if code.isdigit() else None,
                                     group=v["group"], source=v["source"], added_from=added_from, added_to=added_to,
                                     activity=did)
    except ValidationFailed as exc:
        q.errors["q"] = error_text(t, exc)
        return None
    return None if q.errors else flt


def _choices(session: Session) -> dict[str, object]:
    return {"export_limit": f"{export.EXPORT_LIMIT:,}", "activities": ACTIVITIES,
            "staff_choices": staff.list_staff(session, status="active", limit=200).items,
            "code_choices": channel_codes.list_codes(session, limit=200).items,
            "tag_choices": list_tags(session)[:500]}


def typed_query(source: Mapping[str, object] | FormData) -> ListQuery:
    """Return the list query typed into the search form (query string or posted form)."""
    return ListQuery({name: str(source.get(name) or "").strip()[:128] for name in FILTERS})


@router.get("/customers")
def customer_list(request: Request, cursor: int | None = Query(None, ge=1),
                  user: ConsoleUser = Depends(require("customers.view")),
                  session: Session = Depends(get_session, scope="function")) -> Response:
    """List customers newest first with the search and filters; HTMX asks for the next rows only."""
    q = typed_query(request.query_params)
    flt = build_filter(request, q)
    result = customers.list_customers(session, user.principal, flt, cursor=cursor, limit=PAGE_SIZE) if flt else None
    extras = customers.list_extras(session, [c.id for c in result.items]) if result else {}
    if is_htmx(request) and request.query_params.get("rows") == "1":
        return page(request, "customers/_rows.html", q=q, result=result, extras=extras)
    return page(request, "customers/list.html", status=422 if q.errors else 200, q=q, result=result,
                extras=extras, **_choices(session))


@router.post("/customers/export")
async def export_customers(request: Request, user: ConsoleUser = Depends(require("customers.export")),
                           session: Session = Depends(get_session, scope="function")) -> Response:
    """Download the filtered list as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese)."""
    q = typed_query(await request.form())
    return await run_in_threadpool(_export, request, session, user, q)


def _export(request: Request, session: Session, user: ConsoleUser, q: ListQuery) -> Response:
    flt = build_filter(request, q)
    if flt is None:
        return page(request, "customers/list.html", status=422, q=q, result=None, extras={}, **_choices(session))
    tz = request.app.state.settings.tz
    text = export.export_csv(session, identity_context(request).vault, user.principal, flt, tz=tz,
                             filters_used=[k for k, v in q.values.items() if v], request_id=request_id(request))
    name = f"customers-{local_day(utcnow(), tz).isoformat()}.csv"
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
