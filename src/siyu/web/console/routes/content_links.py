"""The public tracked link of a content send: ``/l/{code}`` (no login; a customer's phone opens it).

It records the click once per click id (a ``content_clicked`` event of the customer the link was
minted for, through ingestion) and redirects (302) to the item's URL; an unknown code gets the
console's 404 page. See siyu.domains.content.links.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from siyu.db.engine import unit_of_work
from siyu.domains.access.deps import identity_context
from siyu.domains.content import links
from siyu.domains.ingest.service import IngestContext
from siyu.kit.time import utcnow

router = APIRouter()


def _ingest_context(request: Request) -> IngestContext:
    ctx = getattr(request.app.state, "ingest_context", None)
    if ctx is None:
        ctx = request.app.state.ingest_context = IngestContext(request.app.state.settings, identity_context(request))
    return ctx


@router.get("/l/{code}")
def follow_link(code: str, request: Request, c: str | None = Query(None, max_length=64)) -> Response:
    """Record a click on a tracked content link and redirect to the content."""
    now = utcnow()
    client = request.client.host if request.client else ""
    click_id = links.click_id_for(code, c, client, request.headers.get("user-agent", "")[:300], now)
    with unit_of_work(factory=request.app.state.sessionmaker, write=True) as session:
        click = links.record_click(session, _ingest_context(request), code, click_id, now)
    return RedirectResponse(click.target, status_code=302, headers={"cache-control": "no-store"})
