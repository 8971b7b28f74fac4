"""Errors on console pages: HTML pages (API paths keep their JSON error shape), login redirects."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from siyu.errors import SiyuError
from siyu.web.console.render import page, redirect, safe_next

NOT_CONSOLE = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz")


def is_console(request: Request) -> bool:
    """Return whether the request is for a console page (not the API, its docs or the health check)."""
    return not request.url.path.startswith(NOT_CONSOLE)


def error_page(request: Request, status: int, code: str, message: str = "") -> HTMLResponse:
    """Render the console's error page for ``status``."""
    template = "sidebar/error.html" if request.url.path.startswith("/sidebar/") else "error.html"
    return page(request, template, status=status, status_code=status, code=code, message=message)


def siyu_error_page(request: Request, exc: SiyuError) -> HTMLResponse:
    """Render a service error (403, 404, 409 …) as a console page."""
    return error_page(request, exc.status, exc.code, exc.message)


def login_redirect(request: Request) -> Response:
    """Send a browser without a session to the login page, then back here."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(request, "/login?" + urlencode({"next": safe_next(target)}))
