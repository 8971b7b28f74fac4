"""Today's customers (今日关注): a staff member's at-risk and high-intent customers, from the stored scores.

Staff users see their own lists (the page, and a phone-width version for the WeCom chat sidebar);
operators, analysts and admins pick a staff member. The ranking and definitions are the scores
domain's (docs/clv.md): at risk by value at stake, high intent by intent value.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.scores import service as scores
from siyu.domains.scores.schemas import attention_out
from siyu.domains.staff import service as staff
from siyu.errors import SiyuError
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import error_text, page, translator
from siyu.web.deps import get_session

router = APIRouter()
SHOWN = 30
SIDEBAR_SHOWN = 10


def _lists(session: Session, user: ConsoleUser, userid: str | None, limit: int) -> dict[str, object]:
    return {kind: attention_out(scores.attention(session, user.principal, userid, kind, limit))
            for kind in scores.KINDS}


@router.get("/attention")
def attention_page(request: Request, staff_userid: str = Query("", alias="staff", max_length=64),
                   user: ConsoleUser = Depends(require("attention.view")),
                   session: Session = Depends(get_session, scope="function")) -> Response:
    """Show a staff member's customers at risk and of high intent today (a staff user: their own)."""
    choices = [] if user.staff_id is not None else staff.list_staff(session, status="active", limit=200).items
    errors: dict[str, str] = {}
    lists = None
    if user.staff_id is not None or staff_userid:
        try:
            lists = _lists(session, user, staff_userid or None, SHOWN)
        except SiyuError as exc:
            if exc.status == 403:
                raise
            errors["staff"] = error_text(translator(request), exc)
    return page(request, "attention/list.html", status=422 if errors else 200, lists=lists, choices=choices,
                chosen=staff_userid, errors=errors)


@router.get("/sidebar/attention")
def sidebar_attention(request: Request, user: ConsoleUser = Depends(require("sidebar")),
                      session: Session = Depends(get_session, scope="function")) -> Response:
    """Show the staff user's top customers to act on, phone-width, for the WeCom chat sidebar."""
    return page(request, "sidebar/attention.html", lists=_lists(session, user, None, SIDEBAR_SHOWN))
