"""Users (argon2id, logins, lockout), API keys (scopes, revocation) and the access CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from factories import make_staff, make_user
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from click.testing import Result
from typer.testing import CliRunner

from siyu.cli.main import app as cli
from siyu.config import Settings, get_settings
from siyu.db.engine import unit_of_work
from siyu.domains.access import service as access
from siyu.domains.access.models import ApiKey, AuditEntry, User
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.time import utcnow
from siyu.web.app import create_app

PASSWORD = "correct horse battery"


def test_passwords_are_argon2id_hashed(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        user = make_user(s, "anna", "operator", password=PASSWORD)
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert access.verify_password(user, PASSWORD)
        assert not access.verify_password(user, PASSWORD + "!")


def test_login_with_right_and_wrong_password(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        make_user(s, "anna", "operator", password=PASSWORD)
    with unit_of_work(db_engine) as s:
        assert access.authenticate(s, "anna", "wrong password").code == "invalid_credentials"
        assert access.authenticate(s, "nobody", PASSWORD).code == "invalid_credentials"  # same answer
        ok = access.authenticate(s, "anna", PASSWORD)
        assert ok.code == "ok" and ok.user is not None and ok.user.failed_logins == 0


def test_repeated_failures_lock_the_account(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        make_user(s, "anna", "operator", password=PASSWORD)
    for _ in range(access.MAX_FAILED_LOGINS):
        with unit_of_work(db_engine) as s:  # each attempt is its own request: failures must persist
            assert access.authenticate(s, "anna", "guess").code == "invalid_credentials"
    with unit_of_work(db_engine) as s:
        assert access.authenticate(s, "anna", PASSWORD).code == "account_locked"
        user = s.scalars(select(User).where(User.username == "anna")).one()
        user.locked_until = utcnow() - timedelta(seconds=1)
    with unit_of_work(db_engine) as s:
        assert access.authenticate(s, "anna", PASSWORD).code == "ok"
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "user.locked")).one().target_type == "user"


def test_user_rules(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        staff = make_staff(s, "zhang")
        assert make_user(s, "admin1", "admin").can_read_pii is True
        assert make_user(s, "zhang.user", "staff", staff=staff).can_read_pii is False
        principal = access.principal_for_user(make_user(s, "zhang2", "staff", staff=staff))
        assert (principal.role, principal.scoped_staff_id) == ("staff", staff.id)
        for bad, code in [(("x", PASSWORD, "admin"), "invalid_username"), (("okname", "short", "admin"), "weak_password"),
                          (("okname", PASSWORD, "root"), "invalid_role"), (("okname", PASSWORD, "staff"), "staff_required")]:
            with pytest.raises(ValidationFailed) as err:
                access.create_user(s, *bad)
            assert err.value.code == code
        with pytest.raises(Conflict):
            make_user(s, "admin1", "admin")


@pytest.fixture
def http(settings: Settings, db_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db_engine)) as client:
        yield client


def _key(engine: Engine, scope: str) -> tuple[int, str]:
    with unit_of_work(engine) as s:
        key, token = access.create_api_key(s, scope, [scope])
        return key.id, token


def test_api_key_scopes_on_customer_reads(http: TestClient, db_engine: Engine) -> None:
    _, ingest = _key(db_engine, "ingest")
    _, admin = _key(db_engine, "admin")
    missing = http.get("/api/v1/customers")
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_credentials")
    wrong = http.get("/api/v1/customers", headers={"Authorization": "Bearer sk_admin_not-a-key"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_api_key")
    refused = http.get("/api/v1/customers", headers={"Authorization": f"Bearer {ingest}"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "insufficient_scope")
    assert http.get("/api/v1/customers", headers={"X-API-Key": admin}).status_code == 200


def test_revoked_key_is_401(http: TestClient, db_engine: Engine) -> None:
    key_id, token = _key(db_engine, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/v1/customers", headers=headers).status_code == 200
    with unit_of_work(db_engine) as s:
        revoked = access.revoke_api_key(s, key_id, actor="user:boss")
        first_revocation = revoked.revoked_at
        assert access.revoke_api_key(s, key_id).revoked_at == first_revocation  # idempotent
        with pytest.raises(NotFound):
            access.revoke_api_key(s, 9999)
    response = http.get("/api/v1/customers", headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_api_key")
    with unit_of_work(db_engine) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "apikey.revoke")).all()
        assert [(e.actor, e.target_id) for e in entries] == [("user:boss", str(key_id))]


def test_only_the_key_hash_is_stored(db_engine: Engine) -> None:
    key_id, token = _key(db_engine, "ingest")
    with unit_of_work(db_engine) as s:
        key = s.get(ApiKey, key_id)
        assert key is not None and token not in (key.key_hash, key.prefix) and token.startswith(key.prefix)


@pytest.fixture
def run(db_engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Run ``siyu`` against the test database."""
    monkeypatch.setenv("SIYU_DATABASE_URL", db_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SIYU_SECRET_KEY", settings.effective_secret_key)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args, stdin=None: runner.invoke(cli, list(args), input=stdin)
    get_settings.cache_clear()


def test_cli_user_create(run: Callable[..., Result], db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        make_staff(s, "zhang")
    result = run("user", "create", "zhang.s", "--role", "staff", "--staff", "zhang", "--password-stdin",
                 stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "role staff, staff zhang, pii no" in result.output
    assert run("user", "create", "boss", "--role", "admin", stdin=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    assert run("user", "create", "ana", "--role", "analyst", "--password", PASSWORD, "--pii").exit_code == 0
    with unit_of_work(db_engine) as s:
        users = {u.username: u for u in s.scalars(select(User))}
        assert access.verify_password(users["zhang.s"], PASSWORD) and users["zhang.s"].staff_id is not None
        assert access.verify_password(users["boss"], PASSWORD) and users["boss"].can_read_pii
        assert users["ana"].can_read_pii
    listing = run("user", "list")
    assert [line.split("\t")[1:3] for line in listing.stdout.splitlines()] == [
        ["ana", "analyst"], ["boss", "admin"], ["zhang.s", "staff"]]


@pytest.mark.parametrize(("args", "code"), [
    (["--role", "staff", "--staff", "nobody", "--password", PASSWORD], "staff_not_found"),
    (["--role", "staff", "--password", PASSWORD], "staff_required"),
    (["--role", "admin", "--password", "short"], "weak_password"),
    (["--role", "root", "--password", PASSWORD], "invalid_role"),
])
def test_cli_user_create_errors(run: Callable[..., Result], args: list[str], code: str) -> None:
    result = run("user", "create", "someone", *args)
    assert result.exit_code == 1 and f"[{code}]" in result.output


def test_cli_api_keys(run: Callable[..., Result], settings: Settings, db_engine: Engine) -> None:
    created = run("apikey", "create", "--scope", "admin", "--name", "crm sync")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("sk_admin_") and "\n" not in token  # the token alone on stdout
    with TestClient(create_app(settings, db_engine)) as http:
        assert http.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        listed = run("apikey", "list").stdout.strip().split("\t")
        assert listed[1:4] == ["crm sync", token[:16] + "…", "admin"] and listed[5] == "active"
        assert token not in run("apikey", "list").stdout
        revoked = run("apikey", "revoke", listed[0])
        assert revoked.exit_code == 0 and "revoked" in revoked.output
        assert http.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert run("apikey", "list").stdout.strip().split("\t")[5] != "active"
    missing = run("apikey", "revoke", "999")
    assert missing.exit_code == 1 and "api_key_not_found" in missing.output
    bad = run("apikey", "create", "--scope", "everything")
    assert bad.exit_code == 1 and "invalid_scope" in bad.output
