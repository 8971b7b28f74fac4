"""attribute_source: first touch wins, on the live root, as one (code, platform) pair."""

from __future__ import annotations

import pytest
from factories import make_channel_code, make_customer
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.customers import Customer
from siyu.domains.customers.service import attribute_source
from siyu.errors import NotFound, ValidationFailed
from siyu.kit.crypto import PiiVault


def _source(engine: Engine, customer_id: int) -> tuple[int | None, str | None]:
    with unit_of_work(engine) as s:
        c = s.get(Customer, customer_id)
        assert c is not None
        return c.source_channel_code_id, c.source_platform


def test_sets_source_when_empty(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        code = make_channel_code(s, platform="douyin")
        cid = make_customer(s, vault).id
        assert attribute_source(s, cid, code.id, "douyin") is True
        code_id = code.id
    assert _source(db_engine, cid) == (code_id, "douyin")


def test_keeps_first_touch(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        first, second = make_channel_code(s, platform="douyin"), make_channel_code(s, platform="store")
        cid = make_customer(s, vault).id
        attribute_source(s, cid, first.id, "douyin")
        assert attribute_source(s, cid, second.id, "store") is False
        first_id = first.id
    assert _source(db_engine, cid) == (first_id, "douyin")


def test_platform_only_source_is_not_completed_by_a_later_code(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        code = make_channel_code(s, platform="store")
        cid = make_customer(s, vault, source_platform="xiaohongshu").id
        assert attribute_source(s, cid, code.id, "store") is False
    assert _source(db_engine, cid) == (None, "xiaohongshu")


def test_writes_on_the_live_root_of_a_merged_id(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        code = make_channel_code(s)
        root = make_customer(s, vault).id
        dead = make_customer(s, vault, merged_into_id=root).id
        assert attribute_source(s, dead, code.id, "store") is True
        code_id = code.id
    assert _source(db_engine, root) == (code_id, "store")
    assert _source(db_engine, dead) == (None, None)


def test_unknown_customer_and_bad_platform(db_engine: Engine, vault: PiiVault) -> None:
    with unit_of_work(db_engine) as s:
        with pytest.raises(NotFound):
            attribute_source(s, 999, None, "douyin")
        cid = make_customer(s, vault).id
        with pytest.raises(ValidationFailed) as err:
            attribute_source(s, cid, None, "x" * 33)
        assert err.value.code == "invalid_platform"
        assert attribute_source(s, cid, None, "  ") is False
