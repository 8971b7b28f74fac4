"""Cookies, CSRF tokens, the login rate limit and the security headers of console pages.

Session cookie: a random token (the store keeps its SHA-256, see ``access.service``), HttpOnly,
SameSite=Lax, and Secure when the request came over https or ``SIYU_ENV=prod``.

CSRF: every form carries a token, and HTMX sends it as the ``X-CSRF-Token`` header. The token is an
HMAC, under a key derived from ``SIYU_SECRET_KEY``, of the session token, or, before login, of a
random pre-session cookie: so it is bound to the session, needs no storage, and a page from
another site can neither read nor forge it. Every non-GET console request is checked.

Login rate limit: after LOGIN_ATTEMPTS failed logins from one client address within LOGIN_WINDOW, the
address gets "too many attempts" until the window moves on. Only failures count, so a shop whose staff
all log in through one NAT address is not locked out by its own successful logins. Counted in memory
per server process (the per-user lockout in ``access.service`` holds across processes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

from fastapi import Request, Response

from siyu.kit.crypto import derive_key

SESSION_COOKIE = "siyu_session"
PRESESSION_COOKIE = "siyu_presession"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_ATTEMPTS = 10
LOGIN_WINDOW = 300.0
SESSION_MAX_AGE = 12 * 3600
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'self'")


def secure_cookies(request: Request) -> bool:
    """Return whether cookies must carry the Secure flag (https, or production)."""
    return request.url.scheme == "https" or request.app.state.settings.env == "prod"


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None = None,
               http_only: bool = True) -> None:
    """Set a console cookie with the house flags."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=http_only, samesite="lax",
                        secure=secure_cookies(request))


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Delete a console cookie."""
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure_cookies(request))


def _csrf_key(request: Request) -> bytes:
    key = getattr(request.app.state, "csrf_key", None)
    if key is None:
        key = request.app.state.csrf_key = derive_key(request.app.state.settings.effective_secret_key, "console-csrf")
    return key


def csrf_seed(request: Request) -> str:
    """Return what this browser's CSRF token is bound to: its session, else its pre-session cookie.

    A browser without either gets a new pre-session value, set on the response by :func:`finish`.
    """
    seed = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)
    if seed:
        return seed
    fresh = getattr(request.state, "new_presession", None)
    if fresh is None:
        fresh = request.state.new_presession = secrets.token_urlsafe(24)
    return fresh


def csrf_token(request: Request, seed: str | None = None) -> str:
    """Return the CSRF token forms of this page must carry."""
    mac = hmac.new(_csrf_key(request), (seed or csrf_seed(request)).encode(), hashlib.sha256)
    return mac.hexdigest()


def csrf_valid(request: Request, submitted: str | None) -> bool:
    """Return whether ``submitted`` is this browser's CSRF token."""
    seed = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)
    return bool(seed and submitted) and hmac.compare_digest(csrf_token(request, seed), submitted or "")


def finish(request: Request, response: Response) -> Response:
    """Add security headers and any new pre-session cookie to a console response."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    fresh = getattr(request.state, "new_presession", None)
    if fresh is not None:
        set_cookie(request, response, PRESESSION_COOKIE, fresh)
    return response


class LoginLimiter:
    """Sliding-window count of failed logins per client address (thread-safe, in memory)."""

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW):
        self.attempts, self.window = attempts, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(client, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def blocked(self, client: str, now: float | None = None) -> bool:
        """Return whether ``client`` has failed too often lately to try again now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return len(self._recent(client, now)) >= self.attempts

    def failed(self, client: str, now: float | None = None) -> None:
        """Count a failed login from ``client``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._hits) > 10_000:  # forget idle clients so the table stays small
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
