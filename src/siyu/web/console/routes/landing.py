"""Channel codes' printed QR codes and the public landing link they encode.

``/channel-codes/{id}/qr.png|svg`` (console users who may view codes) draws the code's landing link
as a QR image to download for posters and parcel inserts. ``/c/{state}`` is that landing link: public
(a customer's phone opens it), it counts the scan and sends the phone on to the code's WeCom link,
or says the code is not linked yet. See siyu.domains.channel_codes.landing.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from siyu.db.engine import unit_of_work
from siyu.domains.channel_codes import service as codes
from siyu.errors import NotFound
from siyu.kit.qr import FORMATS, qr_image
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import page
from siyu.web.deps import get_session

router = APIRouter()


@router.get("/channel-codes/{code_id}/qr.{fmt}")
def code_qr(code_id: int, fmt: str, request: Request, download: bool = Query(True),
            _user: ConsoleUser = Depends(require("channel_codes.view")),
            session: Session = Depends(get_session, scope="function")) -> Response:
    """Return the code's landing link as a PNG or SVG QR image (an attachment unless ``download=false``)."""
    if fmt not in FORMATS:
        raise NotFound("QR images come as .png or .svg", code="not_found")
    code = codes.get_code(session, code_id).code
    disposition = "attachment" if download else "inline"
    return Response(qr_image(codes.landing_link(request.app.state.settings, code), fmt), media_type=FORMATS[fmt],
                    headers={"content-disposition": f'{disposition}; filename="channel-code-{code.id}-{code.state}.{fmt}"',
                             "cache-control": "private, max-age=60"})


@router.get("/c/{state}")
def landing(state: str, request: Request) -> Response:
    """Count a scan of a code's landing link and send the scanner on to the code's WeCom link."""
    with unit_of_work(factory=request.app.state.sessionmaker, write=True) as session:
        scan = codes.record_scan(session, request.app.state.settings, state)
    if scan.target:
        return RedirectResponse(scan.target, status_code=302, headers={"cache-control": "no-store"})
    return page(request, "landing/unlinked.html", name=scan.name)
