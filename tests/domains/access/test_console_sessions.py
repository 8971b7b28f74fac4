"""Console sessions in the access domain: expiry, revocation, password changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_user
from sqlalchemy import Engine, func, select

from siyu.db.engine import unit_of_work
from siyu.domains.access import service as access
from siyu.domains.access.models import ConsoleSession
from siyu.errors import ValidationFailed
from siyu.kit.time import utcnow

PASSWORD = "correct horse battery"


def _login(db_engine: Engine, username: str = "anna") -> str:
    with unit_of_work(db_engine) as s:
        user = access.authenticate(s, username, PASSWORD).user
        assert user is not None
        return access.start_session(s, user)


def test_only_the_token_hash_is_stored(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        make_user(s, "anna", "operator", password=PASSWORD)
    token = _login(db_engine)
    with unit_of_work(db_engine, write=False) as s:
        row = s.scalars(select(ConsoleSession)).one()
        assert token not in row.token_hash and len(row.token_hash) == 64
        assert row.expires_at - row.created_at == access.SESSION_TTL
        assert access.session_user(s, token).username == "anna"
        assert access.session_user(s, token + "x") is None


def test_expired_and_revoked_sessions_are_refused(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        make_user(s, "anna", "operator", password=PASSWORD)
    old, current = _login(db_engine), _login(db_engine)
    with unit_of_work(db_engine) as s:
        first = s.scalars(select(ConsoleSession).order_by(ConsoleSession.id)).first()
        first.expires_at = utcnow() - timedelta(seconds=1)
    with unit_of_work(db_engine) as s:
        assert access.session_user(s, old) is None
        assert access.end_session(s, current) is True
        assert access.end_session(s, current) is False  # already revoked: nothing to do, no second audit
        assert access.session_user(s, current) is None


def test_inactive_users_lose_their_sessions(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        make_user(s, "anna", "operator", password=PASSWORD)
    token = _login(db_engine)
    with unit_of_work(db_engine) as s:
        access.get_user(s, access.session_user(s, token).id).active = False
    with unit_of_work(db_engine, write=False) as s:
        assert access.session_user(s, token) is None


def test_password_change_rules(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        user_id = make_user(s, "anna", "operator", password=PASSWORD).id
    with unit_of_work(db_engine) as s:
        for current, new, code in ((PASSWORD + "!", "another secret", "wrong_password"),
                                   (PASSWORD, "short", "weak_password"), (PASSWORD, PASSWORD, "same_password")):
            with pytest.raises(ValidationFailed) as err:
                access.change_password(s, user_id, current, new)
            assert err.value.code == code
        access.change_password(s, user_id, PASSWORD, "another secret")
    with unit_of_work(db_engine) as s:
        assert access.authenticate(s, "anna", "another secret").code == "ok"


def test_a_new_login_purges_the_users_dead_sessions(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        make_user(s, "anna", "operator", password=PASSWORD)
    ended, live = _login(db_engine), _login(db_engine)
    with unit_of_work(db_engine) as s:
        access.end_session(s, ended)
    newest = _login(db_engine)
    with unit_of_work(db_engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 2
        assert access.session_user(s, live) is not None and access.session_user(s, newest) is not None
