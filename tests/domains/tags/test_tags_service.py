"""Tags: create/list, idempotent apply (creating channel tags), remove with history, tags_of."""

from __future__ import annotations

import pytest
from factories import make_customer
from sqlalchemy import Engine, select

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.tags import service
from siyu.domains.tags.models import CustomerTag, Tag
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault


@pytest.fixture
def customers(db_engine: Engine, settings: Settings) -> list[int]:
    vault = PiiVault(settings.effective_secret_key)
    with unit_of_work(db_engine) as s:
        return [make_customer(s, vault).id for _ in range(3)]


def test_create_and_list(db_engine: Engine) -> None:
    with unit_of_work(db_engine) as s:
        service.create_tag(s, " 高意向 ", group_name="意向")
        service.create_tag(s, "抖音", kind="channel")
        assert [(t.name, t.group_name, t.kind) for t in service.list_tags(s)] == [
            ("高意向", "意向", "manual"), ("抖音", "默认", "channel")]  # by group, then name
        assert [t.name for t in service.list_tags(s, kind="manual")] == ["高意向"]
        for args, code in ((("高意向",), "tag_exists"), (("",), "invalid_tag"), (("x" * 65,), "invalid_tag")):
            with pytest.raises(SiyuError) as info:
                service.create_tag(s, *args)
            assert info.value.code == code
        with pytest.raises(SiyuError) as info:
            service.create_tag(s, "ok", kind="magic")
        assert info.value.code == "invalid_tag_kind"


def test_apply_is_idempotent_and_creates_channel_tags(db_engine: Engine, customers: list[int]) -> None:
    a, b, _ = customers
    with unit_of_work(db_engine) as s:
        assert service.apply_tags(s, a, ["抖音", "直播"], "channel_code:1") == 2
        assert service.apply_tags(s, a, ["抖音"], "channel_code:2") == 0
        items = [(a, ["直播", "VIP"], "manual"), (b, ["抖音", "抖音"], "channel_code:1")]
        assert service.apply_tags_bulk(s, items) == 2
    with unit_of_work(db_engine) as s:
        kinds = dict((n, k) for n, k in s.execute(select(Tag.name, Tag.kind)))
        assert kinds == {"抖音": "channel", "直播": "channel", "VIP": "manual"}
        assert len(s.scalars(select(CustomerTag)).all()) == 4
        assert service.tags_of(s, customers) == {a: ["VIP", "抖音", "直播"], b: ["抖音"], customers[2]: []}


def test_remove_keeps_history_and_allows_reapply(db_engine: Engine, customers: list[int]) -> None:
    a = customers[0]
    with unit_of_work(db_engine) as s:
        service.apply_tags(s, a, ["VIP"], "manual")
    with unit_of_work(db_engine) as s:
        assert service.remove_tag(s, a, "VIP", actor="user:op") is True
        assert service.remove_tag(s, a, "VIP") is False
        assert service.tags_of(s, [a]) == {a: []}
        assert service.apply_tags(s, a, ["VIP"], "manual") == 1
        with pytest.raises(SiyuError) as info:
            service.remove_tag(s, a, "nope")
        assert info.value.code == "tag_not_found"
    with unit_of_work(db_engine) as s:
        rows = s.scalars(select(CustomerTag).order_by(CustomerTag.id)).all()
        assert [r.removed_at is None for r in rows] == [False, True]
