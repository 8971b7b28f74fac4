"""Console fixtures: a small brand with users of every role, and clients that log in through the form."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from factories import (
    at,
    make_channel_code,
    make_customer,
    make_event,
    make_identity,
    make_order,
    make_ownership,
    make_staff,
    make_tag,
    make_user,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.kit.crypto import PiiVault
from siyu.web.app import create_app

PASSWORD = "correct horse battery"
XSS_NAME = "<script>alert(1)</script>"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass(frozen=True)
class Brand:
    """Ids of the console's test brand."""

    alice: int  # staff member following zhang and the xss customer
    bob: int  # staff member following li
    zhang: int  # 张三: phone 13812345678, external_userid wmZhang001, tag VIP, orders, an event
    li: int  # 李四: phone 13912345678, followed by bob only
    xss: int  # a customer whose name is markup
    code: int


@pytest.fixture
def vault(settings: Settings) -> PiiVault:
    return PiiVault(settings.effective_secret_key)


@pytest.fixture
def brand(db_engine: Engine, vault: PiiVault) -> Brand:
    with unit_of_work(db_engine) as s:
        alice, bob = make_staff(s, "alice", "Alice"), make_staff(s, "bob", "Bob")
        code = make_channel_code(s, "门店海报")
        zhang = make_customer(s, vault, name="张三", first_seen_at=at(0), source_platform="store",
                              source_channel_code_id=code.id, region="华东", city="杭州")
        phone = make_identity(s, vault, zhang.id, "phone", "13812345678")
        wecom = make_identity(s, vault, zhang.id, "external_userid", "wmZhang001")
        make_ownership(s, wecom, alice, code=code, added_at=at(1))
        make_tag(s, zhang, "VIP")
        make_order(s, phone, 19900, placed_at=at(10), order_id="SO-1")
        make_event(s, wecom, "content_viewed", occurred_at=at(5))
        li = make_customer(s, vault, name="李四", identities={"phone": "13912345678"}, first_seen_at=at(100))
        li_wecom = make_identity(s, vault, li.id, "external_userid", "wmLiSi0001")
        make_ownership(s, li_wecom, bob)
        xss = make_customer(s, vault, name=XSS_NAME, identities={"external_userid": "wmXss00001"}, first_seen_at=at(200))
        make_ownership(s, make_identity(s, vault, xss.id, "unionid", "unionXss1"), alice)
        make_tag(s, xss, "<b>bold</b>")
        for username, role, staff in (("admin", "admin", None), ("ops", "operator", None), ("ana", "analyst", None),
                                      ("alice_u", "staff", alice), ("bob_u", "staff", bob)):
            make_user(s, username, role, staff=staff, password=PASSWORD)
        return Brand(alice=alice.id, bob=bob.id, zhang=zhang.id, li=li.id, xss=xss.id, code=code.id)


@pytest.fixture
def app(settings: Settings, db_engine: Engine) -> FastAPI:
    return create_app(settings, db_engine)


def csrf_of(html: str) -> str:
    """Return the CSRF token a page's forms carry."""
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Console(TestClient):
    """A test client that keeps the CSRF token of the last page it loaded."""

    csrf = ""

    def page(self, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        """GET a page and remember its CSRF token."""
        res = self.get(path, **kwargs)  # type: ignore[arg-type]
        match = CSRF.search(res.text)
        if match:
            self.csrf = match.group(1)
        return res

    def submit(self, path: str, data: dict[str, str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        """POST a form with the current CSRF token."""
        return self.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)  # type: ignore[arg-type]


def login(client: Console, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Log in through the form; return the response (a 303 on success)."""
    client.page("/login")
    res = client.submit("/login", {"username": username, "password": password, "next": "/"}, follow_redirects=False)
    client.page("/account/password")
    return res


@pytest.fixture
def console(app: FastAPI, brand: Brand) -> Iterator[Callable[[str | None], Console]]:
    """Return a factory of clients, each logged in as the given user (None: anonymous)."""
    clients: list[Console] = []

    def make(username: str | None = None) -> Console:
        client = Console(app)
        clients.append(client)
        if username:
            assert login(client, username).status_code == 303
        return client

    yield make
    for client in clients:
        client.close()
