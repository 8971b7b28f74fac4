"""Users (argon2id passwords), API keys (SHA-256 of a random token) and the audit trail.

A login fails with one code whether the user is unknown, inactive or the password wrong, and an
unknown user still costs one argon2 verification, so neither the answer nor its timing tells which
usernames exist. After MAX_FAILED_LOGINS failures in a row a user is locked for LOCKOUT.

Console sessions are server-side: the browser holds a random token, the store holds its SHA-256,
so logout and a password change revoke a session at once (a signed client-side cookie could not be
taken back before it expires).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from siyu.domains.access import repository as repo
from siyu.domains.access.models import ApiKey, AuditEntry, ConsoleSession, User
from siyu.domains.access.principal import ROLES, SCOPES, Principal
from siyu.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from siyu.kit.ids import new_token
from siyu.kit.logs import current_request_id
from siyu.kit.time import utcnow

_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
_DUMMY_HASH = _hasher.hash("siyu-timing-equaliser")
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def create_user(
    session: Session, username: str, password: str, role: str, *, staff_id: int | None = None,
    can_read_pii: bool | None = None, actor: str = "cli",
) -> User:
    """Create a user; staff users must be linked to a staff member."""
    if not _USERNAME.match(username):
        raise ValidationFailed("username must be 3-64 letters, digits or _.@-", code="invalid_username")
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    _check_password(password)
    if role == "staff" and staff_id is None:
        raise ValidationFailed("a staff user must be linked to a staff member (--staff USERID)", code="staff_required")
    if repo.user_by_name(session, username):
        raise Conflict(f"user {username!r} already exists", code="user_exists")
    pii = role == "admin" if can_read_pii is None else can_read_pii
    user = User(username=username, password_hash=hash_password(password), role=role, staff_id=staff_id,
                can_read_pii=pii, created_at=utcnow())
    repo.add(session, user)
    audit(session, actor, "user.create", "user", user.id, {"username": username, "role": role})
    return user


def _check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"password must be at least {MIN_PASSWORD} characters", code="weak_password",
                               field=field)


def verify_password(user: User, password: str) -> bool:
    """Return whether ``password`` matches the user's hash."""
    return verify_password_hash(user.password_hash, password)


def list_users(session: Session) -> list[User]:
    """Return every user by name."""
    return repo.list_users(session)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login: the user, or the error code to answer with (after committing)."""

    user: User | None
    code: str = "ok"  # ok | invalid_credentials | account_locked


def authenticate(session: Session, username: str, password: str) -> LoginResult:
    """Check a username and password, counting failures and locking after too many.

    Returns instead of raising so the caller can commit the failure count before it answers 401.
    """
    user = repo.user_by_name(session, username)
    now = utcnow()
    if user is None or not user.active:
        verify_password_hash(_DUMMY_HASH, password)
        return LoginResult(None, "invalid_credentials")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "account_locked")
    if not verify_password(user, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
            audit(session, f"user:{username}", "user.locked", "user", user.id)
        session.flush()
        return LoginResult(None, "invalid_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    return LoginResult(user)


def verify_password_hash(password_hash: str, password: str) -> bool:
    """Return whether ``password`` matches an argon2 hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def principal_for_user(user: User) -> Principal:
    """Return the principal a logged-in user acts as."""
    scopes = frozenset({"admin"}) if user.role == "admin" else frozenset()
    return Principal(actor=f"user:{user.username}", role=user.role, scopes=scopes,
                     staff_id=user.staff_id, can_read_pii=user.can_read_pii)


def get_user(session: Session, user_id: int) -> User:
    """Return one user by id."""
    found = repo.user(session, user_id)
    if found is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    return found


def start_session(session: Session, user: User, *, request_id: str | None = None) -> str:
    """Open a console session for a user who just authenticated; return its cookie token (shown once)."""
    token = new_token("ses", 32)
    now = utcnow()
    repo.purge_sessions(session, user.id, now)  # the table holds live sessions only, not every login ever
    repo.add(session, ConsoleSession(token_hash=_key_hash(token), user_id=user.id, created_at=now,
                                     expires_at=now + SESSION_TTL))
    audit(session, f"user:{user.username}", "user.login", "user", user.id, None, request_id)
    return token


def session_user(session: Session, token: str) -> User | None:
    """Return the active user of a live console session token, or None."""
    return repo.live_session_user(session, _key_hash(token), utcnow())


def end_session(session: Session, token: str, *, request_id: str | None = None) -> bool:
    """Revoke a console session (logout); return whether it was live."""
    user = session_user(session, token)
    if user is None or repo.revoke_session(session, _key_hash(token), utcnow()) == 0:
        return False
    audit(session, f"user:{user.username}", "user.logout", "user", user.id, None, request_id)
    return True


def change_password(session: Session, user_id: int, current: str, new: str, *, keep_token: str | None = None,
                    request_id: str | None = None) -> User:
    """Change a user's password after checking the current one; revoke their other console sessions."""
    user = get_user(session, user_id)
    if not verify_password(user, current):
        raise ValidationFailed("the current password is wrong", code="wrong_password", field="current_password")
    _check_password(new, "new_password")
    if new == current:
        raise ValidationFailed("choose a password different from the current one", code="same_password",
                               field="new_password")
    user.password_hash = hash_password(new)
    session.flush()
    revoked = repo.revoke_sessions_of(session, user.id, utcnow(),
                                      except_hash=_key_hash(keep_token) if keep_token else None)
    audit(session, f"user:{user.username}", "user.password_change", "user", user.id,
          {"sessions_revoked": revoked}, request_id)
    return user


def _key_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(session: Session, name: str, scopes: list[str], *, actor: str = "cli") -> tuple[ApiKey, str]:
    """Create an API key and return it with its plaintext token (shown once, never stored)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ValidationFailed(f"scopes must be among {', '.join(SCOPES)}", code="invalid_scope")
    token = new_token(f"sk_{scopes[0]}")
    key = ApiKey(name=name, prefix=token[:16], key_hash=_key_hash(token), scopes=sorted(set(scopes)),
                 created_by=actor, created_at=utcnow())
    repo.add(session, key)
    audit(session, actor, "apikey.create", "api_key", key.id, {"name": name, "scopes": key.scopes})
    return key, token


def principal_for_api_key(session: Session, token: str) -> Principal:
    """Return the principal of a valid, unrevoked API key, or raise Unauthorized."""
    key = repo.api_key_by_hash(session, _key_hash(token))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key", code="invalid_api_key")
    scopes = frozenset(key.scopes)
    return Principal(actor=f"apikey:{key.id}", role="admin" if "admin" in scopes else "operator",
                     scopes=scopes, can_read_pii="admin" in scopes)


def list_api_keys(session: Session) -> list[ApiKey]:
    """Return every API key (never their tokens), newest first."""
    return repo.list_api_keys(session)


def revoke_api_key(session: Session, key_id: int, *, actor: str = "cli") -> ApiKey:
    """Revoke an API key from now on; revoking a revoked key changes nothing."""
    key = repo.api_key(session, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        audit(session, actor, "apikey.revoke", "api_key", key.id, {"name": key.name})
    return key


def audit(session: Session, actor: str, action: str, target_type: str, target_id: object = None,
          detail: dict[str, Any] | None = None, request_id: str | None = None) -> None:
    """Append an audit entry (in the caller's unit of work).

    Without an explicit ``request_id`` the entry takes the id of the HTTP request being served (bound
    by the app's request-id middleware), so every change made over the API or the console can be
    traced to its request line in the logs; CLI and job entries have none.
    """
    session.add(AuditEntry(actor=actor, action=action, target_type=target_type,
                           target_id=None if target_id is None else str(target_id),
                           detail=detail or {}, request_id=request_id or current_request_id(), at=utcnow()))


def recent_audit(session: Session, *, limit: int = 100, action: str | None = None, actor: str | None = None,
                 target_type: str | None = None, target_id: str | None = None,
                 before_id: int | None = None) -> list[AuditEntry]:
    """Return the newest audit entries matching every given filter (keyset: older than ``before_id``)."""
    return repo.audit_entries(session, limit=limit, action=action, actor=actor, target_type=target_type,
                              target_id=target_id, before_id=before_id)
