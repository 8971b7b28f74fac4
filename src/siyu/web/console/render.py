"""Rendering console pages: one Jinja2 environment (autoescaped), per-request helpers, safe redirects."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from siyu import __version__
from siyu.errors import SiyuError
from siyu.kit.time import ensure_utc
from siyu.web.console import nav
from siyu.web.console.auth import ConsoleUser, session_user
from siyu.web.console.i18n import LOCALE_COOKIE, LOCALES, Translator, pick_locale
from siyu.web.console.security import csrf_token, finish

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

ENV = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(("html",)),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def translator(request: Request) -> Translator:
    """Return the translator of the request's locale (cookie, default Chinese)."""
    return Translator(pick_locale(request.cookies.get(LOCALE_COOKIE)))


def is_htmx(request: Request) -> bool:
    """Return whether HTMX sent the request (it then wants a fragment, not a whole page)."""
    return request.headers.get("hx-request") == "true"


def request_id(request: Request) -> str | None:
    """Return the request id the middleware assigned."""
    return getattr(request.state, "request_id", None)


def safe_next(target: str | None, default: str = "/") -> str:
    """Return ``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _formatters(request: Request) -> dict[str, Any]:
    tz = request.app.state.settings.tz

    def dt(value: datetime | None) -> str:
        return ensure_utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    def day(value: date | datetime | None) -> str:
        if isinstance(value, datetime):
            return ensure_utc(value).astimezone(tz).strftime("%Y-%m-%d")
        return value.isoformat() if value else ""

    def url(path: str, **params: object) -> str:
        kept = {k: v for k, v in params.items() if v not in (None, "")}
        return f"{path}?{urlencode(kept)}" if kept else path

    return {"fmt_dt": dt, "fmt_day": day, "url": url}


def context(request: Request, **values: Any) -> dict[str, Any]:
    """Return the template context: translator, user, CSRF token, menu, formatters, and ``values``."""
    t = translator(request)
    user: ConsoleUser | None = session_user(request)
    return {
        "request": request, "t": t, "locale": t.locale, "locales": LOCALES, "user": user,
        "csrf": csrf_token(request), "menu": nav.menu(user.role) if user else [],
        "can": (lambda cap: user is not None and user.can(cap)), "path": request.url.path,
        "version": __version__, "error_text": lambda exc: error_text(t, exc), **_formatters(request), **values,
    }


def error_text(t: Translator, exc: SiyuError) -> str:
    """Return the catalogue message of an error code, or the service's own message if it has none."""
    key = f"error.{exc.code}"
    if not t.has(key):
        return exc.message
    values = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in exc.details.items()}
    return t(key, **values)


def field_errors(t: Translator, exc: SiyuError, default_field: str) -> dict[str, str]:
    """Return {field: message} for a validation error, placed beside the field it names."""
    field = str(exc.details.get("field") or default_field)
    return {field: error_text(t, exc)}


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """Render a template into an HTML response with the security headers."""
    html = ENV.get_template(template).render(context(request, **values))
    response = HTMLResponse(html, status_code=status)
    finish(request, response)
    return response


async def form_values(request: Request, *, strip: bool = False) -> dict[str, str]:
    """Return a posted form's fields as text (the CSRF token left out), each stripped when ``strip``."""
    form = await request.form()
    return {k: str(v).strip() if strip else str(v) for k, v in form.items() if k != "csrf_token"}


def redirect(request: Request, target: str) -> Response:
    """Redirect after a form post (303); HTMX requests get an ``HX-Redirect`` instead."""
    if is_htmx(request):
        response: Response = Response(status_code=200, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    finish(request, response)
    return response
