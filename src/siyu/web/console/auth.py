"""Who is using the console: the session cookie's user, capability checks and the CSRF guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request

from siyu.domains.access import Principal
from siyu.domains.access import service as access
from siyu.errors import Forbidden
from siyu.web.console import nav
from siyu.web.console.security import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_valid

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """Raised when a page needs a logged-in user and the request has no live session."""


@dataclass(frozen=True)
class ConsoleUser:
    """The logged-in user of a console request."""

    id: int
    username: str
    role: str
    staff_id: int | None
    principal: Principal
    token: str

    def can(self, capability: str) -> bool:
        """Return whether this user's role holds ``capability``."""
        return nav.can(self.role, capability)


def session_user(request: Request) -> ConsoleUser | None:
    """Return the user of the request's session cookie, or None (a short read session of its own)."""
    cached = getattr(request.state, "console_user", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with request.app.state.sessionmaker() as session:
        user = access.session_user(session, token)
        if user is None:
            return None
        found = ConsoleUser(id=user.id, username=user.username, role=user.role, staff_id=user.staff_id,
                            principal=access.principal_for_user(user), token=token)
    request.state.console_user = found
    request.state.actor = found.principal.actor
    return found


def current_user(request: Request) -> ConsoleUser:
    """Return the logged-in user, or send the browser to the login page."""
    found = session_user(request)
    if found is None:
        raise LoginRequired()
    return found


def require(capability: str) -> Callable[[ConsoleUser], ConsoleUser]:
    """Return a dependency that demands ``capability`` of the logged-in user (403 otherwise)."""

    def _check(user: ConsoleUser = Depends(current_user)) -> ConsoleUser:
        if not user.can(capability):
            raise Forbidden("your role may not open this page", code="forbidden_page")
        return user

    return _check


async def csrf_guard(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token (header or form field) is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if not csrf_valid(request, submitted):
        raise Forbidden("the form expired or came from another site; reload the page and try again",
                        code="csrf_failed")
