"""Fixtures for the customer read API: a small populated brand, keys and principals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from factories import (
    at,
    make_api_key,
    make_channel_code,
    make_customer,
    make_event,
    make_group_membership,
    make_identity,
    make_order,
    make_ownership,
    make_staff,
    make_tag,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.identity import Identity
from siyu.domains.identity.service import IdentityContext
from siyu.kit.crypto import PiiVault
from siyu.web.app import create_app


@dataclass(frozen=True)
class World:
    """Ids of the populated brand."""

    alice: int  # staff following zhang (via the douyin code) and, formerly, wang
    bob: int  # staff following li
    code: int
    zhang: int  # 张三: phone + unionid, tags, group, orders, events
    li: int  # 李四
    wang: int  # 王五: alice stopped following
    zhang_old: int  # a tombstone merged into zhang, holding the tag 老客
    admin_key: str
    ingest_key: str


@pytest.fixture
def vault(settings: Settings) -> PiiVault:
    return PiiVault(settings.effective_secret_key)


@pytest.fixture
def ctx(settings: Settings) -> IdentityContext:
    return IdentityContext.from_settings(settings)


@pytest.fixture
def world(db_engine: Engine, vault: PiiVault) -> World:
    with unit_of_work(db_engine) as s:
        alice, bob = make_staff(s, "alice", "Alice"), make_staff(s, "bob", "Bob")
        code = make_channel_code(s, "抖音直播间", platform="douyin")
        zhang = make_customer(s, vault, name="张三", first_seen_at=at(0), source_platform="douyin",
                              source_channel_code_id=code.id)
        phone = make_identity(s, vault, zhang.id, "phone", "13812345678")
        union = make_identity(s, vault, zhang.id, "unionid", "unionAAA111")
        make_ownership(s, union, alice, code=code, added_at=at(1))
        make_tag(s, zhang, "VIP")
        make_group_membership(s, union, "chatX")
        make_group_membership(s, phone, "chatOld", left=True)
        make_order(s, phone, 19900, placed_at=at(10))
        make_order(s, union, 5000, placed_at=at(20), refunded_fen=2000)
        make_order(s, union, 3000, placed_at=at(30), paid=False)
        make_event(s, union, "page_view", occurred_at=at(5))
        li = make_customer(s, vault, name="李四", identities={"phone": "13912345678"}, first_seen_at=at(100))
        make_ownership(s, _first_identity(s, li.id), bob)
        wang = make_customer(s, vault, name="王五", identities={"unionid": "unionWANG01"}, first_seen_at=at(200))
        make_ownership(s, _first_identity(s, wang.id), alice, removed_at=at(300))
        old = make_customer(s, vault, name=None, merged_into_id=zhang.id)
        make_tag(s, old, "老客")
        _k1, admin_key = make_api_key(s, "admin")
        _k2, ingest_key = make_api_key(s, "ingest")
        return World(alice=alice.id, bob=bob.id, code=code.id, zhang=zhang.id, li=li.id, wang=wang.id,
                     zhang_old=old.id, admin_key=admin_key, ingest_key=ingest_key)


def _first_identity(s: Session, customer_id: int) -> Identity:
    return s.scalars(select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)).first()


@pytest.fixture
def app(settings: Settings, db_engine: Engine) -> FastAPI:
    return create_app(settings, db_engine)


@pytest.fixture
def admin(app: FastAPI, world: World) -> Iterator[TestClient]:
    """A client holding an admin API key (may read PII)."""
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {world.admin_key}"
        yield client
