"""Login, logout, change password, language switch, and the home page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.domains.access import service as access
from siyu.errors import ValidationFailed
from siyu.web.console import nav
from siyu.web.console.auth import ConsoleUser, current_user, session_user
from siyu.web.console.i18n import LOCALE_COOKIE, LOCALES
from siyu.web.console.render import field_errors, page, redirect, request_id, safe_next, translator
from siyu.web.console.security import PRESESSION_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE, clear_cookie, set_cookie
from siyu.web.deps import get_session

router = APIRouter()
LOCKOUT_MINUTES = int(access.LOCKOUT.total_seconds() // 60)


@router.get("/")
def home(request: Request, user: ConsoleUser = Depends(current_user)) -> Response:
    """Open the first page the user's role may use."""
    target = nav.home_path(user.role)
    if target is None:
        return page(request, "error.html", status=403, status_code=403, code="forbidden_page", message="")
    return redirect(request, target)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """Show the login form (a logged-in user goes straight on)."""
    if session_user(request) is not None:
        return redirect(request, safe_next(next))
    return page(request, "login.html", next=safe_next(next), username="", error=None)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/"),
          session: Session = Depends(get_session, scope="function")) -> Response:
    """Check the credentials; on success open a session and go on, else show why beside the form."""
    target = safe_next(next)

    def again(status: int, error: str, **values: object) -> Response:
        return page(request, "login.html", status=status, next=target, username=username[:64], error=error,
                    **values)

    limiter = request.app.state.login_limiter
    if limiter.blocked(_client(request)):
        return again(429, "login.rate_limited")
    if not username.strip() or not password:
        return again(422, "login.missing")
    result = access.authenticate(session, username.strip(), password)
    if result.user is None:
        limiter.failed(_client(request))
        if result.code == "account_locked":
            return again(423, "login.locked", minutes=LOCKOUT_MINUTES)
        return again(401, "login.invalid")
    token = access.start_session(session, result.user, request_id=request_id(request))
    response = redirect(request, target)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=SESSION_MAX_AGE)
    clear_cookie(request, response, PRESESSION_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, session: Session = Depends(get_session, scope="function")) -> Response:
    """End the session and return to the login page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        access.end_session(session, token, request_id=request_id(request))
    response = redirect(request, "/login")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/account/password")
def password_form(request: Request, _user: ConsoleUser = Depends(current_user)) -> Response:
    """Show the change-password form."""
    return page(request, "password.html", errors={}, done=False)


@router.post("/account/password")
def change_password(request: Request, current_password: str = Form(""), new_password: str = Form(""),
                    confirm_password: str = Form(""), user: ConsoleUser = Depends(current_user),
                    session: Session = Depends(get_session, scope="function")) -> Response:
    """Change the password; the user's other sessions end, this one stays."""
    t = translator(request)
    if new_password != confirm_password:
        return page(request, "password.html", status=422, done=False,
                    errors={"confirm_password": t("password.mismatch")})
    try:
        access.change_password(session, user.id, current_password, new_password, keep_token=user.token,
                               request_id=request_id(request))
    except ValidationFailed as exc:
        return page(request, "password.html", status=422, done=False,
                    errors=field_errors(t, exc, "new_password"))
    return page(request, "password.html", errors={}, done=True)


@router.post("/locale")
def set_locale(request: Request, lang: str = Form(""), next: str = Form("/")) -> Response:
    """Switch the console's language; the choice is kept in a cookie for a year."""
    response = redirect(request, safe_next(next))
    if lang in LOCALES:
        set_cookie(request, response, LOCALE_COOKIE, lang, max_age=365 * 24 * 3600)
    return response
