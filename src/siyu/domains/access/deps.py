"""FastAPI dependencies: one unit of work per request, the caller's principal, scope checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.access import Principal
from siyu.domains.access import service as access
from siyu.domains.identity.service import IdentityContext
from siyu.errors import Forbidden, Unauthorized


def get_settings_dep(request: Request) -> Settings:
    """Return the app's settings."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """Yield the request's session (a writer unless GET/HEAD); commit on success, roll back on error."""
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with unit_of_work(factory=request.app.state.sessionmaker, write=write) as session:
        yield session


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def get_principal(request: Request) -> Principal:
    """Return the authenticated caller (API key), or raise 401.

    Uses its own short read-only session so it never holds a lock the request's writer needs.
    """
    token = _token(request)
    if not token:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'", code="missing_credentials")
    with request.app.state.sessionmaker() as session:
        principal = access.principal_for_api_key(session, token)
    request.state.actor = principal.actor
    return principal


def require_scope(scope: str) -> Callable[[Principal], Principal]:
    """Return a dependency that demands ``scope`` of the caller."""

    def _check(principal: Principal = Depends(get_principal)) -> Principal:
        if not principal.has_scope(scope):
            raise Forbidden(f"this API key lacks the '{scope}' scope", code="insufficient_scope")
        return principal

    return _check


def require_reader(principal: Principal = Depends(get_principal)) -> Principal:
    """Demand a caller that may read customer data (admin-scoped keys, or users)."""
    if principal.actor.startswith("apikey:") and not principal.has_scope("admin"):
        raise Forbidden("reading customers needs an API key with the 'admin' scope", code="insufficient_scope")
    return principal


def require_editor(principal: Principal = Depends(require_reader)) -> Principal:
    """Demand a caller that may change segments and tags (admin keys, admin or operator users)."""
    if not principal.actor.startswith("apikey:") and principal.role not in ("admin", "operator"):
        raise Forbidden("changing segments and tags needs an admin or operator", code="insufficient_role")
    return principal


def identity_context(request: Request) -> IdentityContext:
    """Return the app's identity rules (kinds, junk numbers, PII vault), built once."""
    ctx = getattr(request.app.state, "identity_context", None)
    if ctx is None:
        ctx = request.app.state.identity_context = IdentityContext.from_settings(request.app.state.settings)
    return ctx
