"""The audit log (admins): who did what to which record, who read unmasked PII, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.access import service as access
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import page
from siyu.web.deps import get_session

router = APIRouter()
PAGE_SIZE = 50
FILTERS = ("action", "actor", "target_type", "target_id")


@router.get("/audit")
def audit_log(request: Request, before: int | None = Query(None, ge=1),
              _user: ConsoleUser = Depends(require("audit.view")),
              session: Session = Depends(get_session, scope="function")) -> Response:
    """List audit entries by action, actor and target, 50 a page."""
    values = {name: request.query_params.get(name, "").strip()[:80] for name in FILTERS}
    entries = access.recent_audit(session, limit=PAGE_SIZE, before_id=before,
                                  **{k: v or None for k, v in values.items()})
    more = entries[-1].id if len(entries) == PAGE_SIZE else None
    return page(request, "audit.html", entries=entries, values=values, more=more)
