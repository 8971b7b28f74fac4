"""Console login: session cookies, CSRF, rate limit and lockout, logout, change password, roles."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access import service as access
from siyu.domains.access.models import AuditEntry
from siyu.web.console.security import LoginLimiter
from web.console.conftest import PASSWORD, Console, login


def _actions(db_engine: Engine, action: str) -> list[AuditEntry]:
    with unit_of_work(db_engine, write=False) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_pages_send_anonymous_visitors_to_login_and_back(console) -> None:
    client = console(None)
    res = client.get("/customers?tag=VIP", follow_redirects=False)
    assert (res.status_code, res.headers["location"]) == (303, "/login?next=%2Fcustomers%3Ftag%3DVIP")


def test_login_sets_a_hardened_session_cookie_and_audits(console, db_engine: Engine) -> None:
    client = console(None)
    res = login(client, "ops")
    assert (res.status_code, res.headers["location"]) == (303, "/")
    cookie = next(c for c in res.headers.get_list("set-cookie") if c.startswith("siyu_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http in tests
    assert [e.actor for e in _actions(db_engine, "user.login")] == ["user:ops"]
    assert client.get("/customers").status_code == 200


def test_session_cookie_is_secure_over_https(app: FastAPI, brand) -> None:
    with Console(app, base_url="https://testserver") as client:
        res = login(client, "ops")
    cookie = next(c for c in res.headers.get_list("set-cookie") if c.startswith("siyu_session="))
    assert "Secure" in cookie


def test_wrong_password_is_refused_with_a_message(console) -> None:
    client = console(None)
    res = login(client, "ops", "wrong password")
    assert res.status_code == 401
    assert "用户名或密码错误" in res.text
    assert client.get("/customers", follow_redirects=False).status_code == 303


def test_lockout_message_after_repeated_failures(console) -> None:
    client = console(None)
    for _ in range(access.MAX_FAILED_LOGINS):
        assert login(client, "ops", "wrong password").status_code == 401
    res = login(client, "ops")  # the right password no longer opens a locked account
    assert res.status_code == 423
    assert "账号已锁定" in res.text and "15 分钟" in res.text


def test_login_rate_limit_per_address(app: FastAPI, console) -> None:
    app.state.login_limiter = LoginLimiter(attempts=3, window=60)
    client = console(None)
    codes = [login(client, "nobody", "x" * 8).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert "登录尝试过于频繁" in login(client, "ops").text


def test_login_only_redirects_within_the_site(console) -> None:
    client = console(None)
    client.page("/login")
    res = client.submit("/login", {"username": "ops", "password": PASSWORD, "next": "//evil.example/x"},
                        follow_redirects=False)
    assert res.headers["location"] == "/"


def test_forms_without_a_valid_csrf_token_are_refused(console, brand) -> None:
    client = console("ops")
    no_token = client.post(f"/customers/{brand.zhang}/tags", data={"tag": "新客"})
    wrong = client.post(f"/customers/{brand.zhang}/tags", data={"tag": "新客", "csrf_token": "0" * 64})
    header = client.post(f"/customers/{brand.zhang}/tags", data={"tag": "新客"},
                         headers={"X-CSRF-Token": client.csrf, "HX-Request": "true"})
    assert (no_token.status_code, wrong.status_code, header.status_code) == (403, 403, 200)
    assert "表单已过期" in no_token.text


def test_login_form_needs_its_presession_token(console) -> None:
    client = console(None)
    res = client.post("/login", data={"username": "ops", "password": PASSWORD})
    assert res.status_code == 403


def test_csrf_token_is_bound_to_the_session(console, brand) -> None:
    first, second = console("ops"), console("ops")
    assert first.csrf != second.csrf
    res = first.post(f"/customers/{brand.zhang}/tags", data={"tag": "x", "csrf_token": second.csrf})
    assert res.status_code == 403


def test_logout_revokes_the_session(console, db_engine: Engine) -> None:
    client = console("ops")
    token = client.cookies.get("siyu_session")
    res = client.submit("/logout", follow_redirects=False)
    assert (res.status_code, res.headers["location"]) == (303, "/login")
    replay = console(None)
    replay.cookies.set("siyu_session", token)
    assert replay.get("/customers", follow_redirects=False).status_code == 303
    assert [e.actor for e in _actions(db_engine, "user.logout")] == ["user:ops"]


def test_change_password_keeps_this_session_and_ends_the_others(console, db_engine: Engine) -> None:
    client, other = console("ops"), console("ops")
    client.page("/account/password")
    res = client.submit("/account/password", {"current_password": PASSWORD, "new_password": "a new secret 1",
                                              "confirm_password": "a new secret 1"})
    assert res.status_code == 200 and "密码已修改" in res.text
    assert client.get("/customers").status_code == 200
    assert other.get("/customers", follow_redirects=False).status_code == 303
    assert login(console(None), "ops", "a new secret 1").status_code == 303
    assert _actions(db_engine, "user.password_change")[0].detail == {"sessions_revoked": 1}


def test_change_password_shows_errors_beside_the_fields(console) -> None:
    client = console("ops")
    wrong = client.submit("/account/password", {"current_password": "nope nope", "new_password": "a new secret 1",
                                                "confirm_password": "a new secret 1"})
    short = client.submit("/account/password", {"current_password": PASSWORD, "new_password": "short",
                                                "confirm_password": "short"})
    differ = client.submit("/account/password", {"current_password": PASSWORD, "new_password": "a new secret 1",
                                                 "confirm_password": "a new secret 2"})
    assert [r.status_code for r in (wrong, short, differ)] == [422, 422, 422]
    assert 'data-field="current_password">当前密码不正确' in wrong.text
    assert 'data-field="new_password">密码至少需要 8 个字符' in short.text
    assert 'data-field="confirm_password">两次输入的新密码不一致' in differ.text


def test_navigation_follows_the_role(console) -> None:
    ops = console("ops").get("/customers").text
    ana = console("ana").get("/customers").text
    assert "用户运营" in ops and 'href="/identity/review"' in ops and "数据运营" in ops
    assert 'href="/customers"' in ana and 'href="/dashboard"' in ana and 'href="/identity/review"' not in ana
    staff = console("alice_u").get("/customers").text
    assert "数据运营" not in staff and 'href="/dashboard"' not in staff  # no page of that line for staff
    assert "活动运营" not in ops  # a line with no page yet is not shown
    assert 'href="/content"' in ops and 'href="/mass"' in ops and 'href="/content"' not in staff


def test_pages_a_role_may_not_use_answer_403(console, brand) -> None:
    ana, staff = console("ana"), console("alice_u")
    assert ana.get("/identity/review").status_code == 403
    assert staff.get("/identity/review").status_code == 403
    assert ana.get("/sidebar/customer?external_userid=wmZhang001").status_code == 403
    assert ana.submit(f"/customers/{brand.zhang}/tags", {"tag": "x"}).status_code == 403
    page = staff.get("/identity/review")
    assert "你的角色不能使用这个页面" in page.text


def test_home_opens_the_first_page_of_the_role(console) -> None:
    res = console("alice_u").get("/", follow_redirects=False)
    assert (res.status_code, res.headers["location"]) == (303, "/customers")
