"""Property tests: the resolver's partition against a plain reference union-find.

1. With kinds that are not unique per person, any sequence of linking facts (in any batching)
   yields exactly the connected components of a reference union-find.
2. With unique kinds too, no customer ever holds two values of a unique kind, and the partition
   refines the union-find one (conflicts only ever keep people apart).
3. A manual merge followed by its undo restores the partition.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from domains.identity.helpers import partition, resolve, wipe
from siyu.domains.identity.repository import identity_rows as identity_repo_rows
from siyu.db.engine import unit_of_work
from siyu.domains.identity import service as identity
from siyu.errors import NotFound

LOOSE = {"openid:wxa": ["oAAAAAA1", "oAAAAAA2", "oAAAAAA3", "oAAAAAA4"],
         "external_userid": ["wmAAAAAA1", "wmAAAAAA2", "wmAAAAAA3"],
         "email": ["a@x.cn", "b@x.cn"], "douyin_openid": ["dyAAAAAA1", "dyAAAAAA2"]}
UNIQUE = {"phone": ["13800000001", "13800000002", "13800000003"], "unionid": ["uAAAAAA1", "uAAAAAA2"]}


def _facts(pool: dict[str, list[str]]) -> st.SearchStrategy[list[dict[str, str]]]:
    pair = st.sampled_from([(k, v) for k, vs in pool.items() for v in vs])
    fact = st.lists(pair, min_size=1, max_size=3, unique_by=lambda kv: kv[0]).map(dict)
    return st.lists(fact, min_size=1, max_size=14)


def _union_find(facts: list[dict[str, str]]) -> set[frozenset[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for fact in facts:
        keys = [f"{k}:{v}" for k, v in fact.items()]
        for key in keys:
            find(key)
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    groups: dict[str, set[str]] = {}
    for key in parent:
        groups.setdefault(find(key), set()).add(key)
    return {frozenset(g) for g in groups.values()}


def _run(engine, ctx, facts, cut: int) -> None:
    resolve(engine, ctx, facts[:cut])
    for n, fact in enumerate(facts[cut:], cut):
        resolve(engine, ctx, [fact], start=n)


PROFILE = hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def ctx(settings):
    return identity.IdentityContext.from_settings(settings)


@PROFILE
@given(facts=_facts(LOOSE), cut=st.integers(0, 14))
def test_partition_matches_union_find(db_engine, ctx, facts, cut):
    wipe(db_engine)
    _run(db_engine, ctx, facts, min(cut, len(facts)))
    assert partition(db_engine, ctx) == _union_find(facts)


@PROFILE
@given(facts=_facts({**LOOSE, **UNIQUE}), cut=st.integers(0, 14))
def test_unique_kinds_never_collide_and_only_split(db_engine, ctx, facts, cut):
    wipe(db_engine)
    _run(db_engine, ctx, facts, min(cut, len(facts)))
    got = partition(db_engine, ctx)
    for group in got:
        for kind in UNIQUE:
            assert len([k for k in group if k.startswith(kind + ":")]) <= 1, group
    reference = _union_find(facts)
    assert all(any(g <= r for r in reference) for g in got)
    assert set().union(*got) == set().union(*reference)


@PROFILE
@given(facts=_facts(LOOSE), data=st.data())
def test_undo_merge_inverts_merge(db_engine, ctx, facts, data):
    wipe(db_engine)
    _run(db_engine, ctx, facts, 0)
    before = partition(db_engine, ctx)
    with unit_of_work(db_engine) as s:
        live = sorted({identity.live_customer_id(s, c) for c in range(1, 40) if _exists(s, c)})
    if len(live) < 2:
        return
    a, b = data.draw(st.lists(st.sampled_from(live), min_size=2, max_size=2, unique=True))
    with unit_of_work(db_engine) as s:
        identity.merge_customers(s, ctx, a, b, actor="test", reason="prop")
    assert len(partition(db_engine, ctx)) == len(before) - 1
    with unit_of_work(db_engine) as s:
        merge_id = identity.graph(s, ctx, min(a, b), unmasked=False)["merges"][-1]["id"]
        identity.undo_merge(s, merge_id, actor="test", reason="prop")
    assert partition(db_engine, ctx) == before


def _exists(session, cid: int) -> bool:
    try:
        identity.live_customer_id(session, cid)
        return True
    except NotFound:
        return False


def _holders(engine, identity_ids: set[int]) -> dict[int, int]:
    with unit_of_work(engine) as s:
        return {i.id: i.customer_id for i in identity_repo_rows(s, sorted(identity_ids))}


@PROFILE
@given(first=_facts({**LOOSE, **UNIQUE}), second=_facts({**LOOSE, **UNIQUE}))
def test_every_fact_lands_where_its_anchor_ends_up(db_engine, ctx, first, second):
    """A batch mixing facts that change nothing with facts that merge or attach: each answer names the
    live customer that holds its anchor once the batch is written, and only identities of that customer."""
    wipe(db_engine)
    resolve(db_engine, ctx, first)
    batch = first + second  # the first facts are now mostly steady; the second ones link and merge
    landed = resolve(db_engine, ctx, batch, start=100)
    holders = _holders(db_engine, {i for r in landed for i in (r.anchor_id, *r.identity_ids.values())})
    for fact, r in zip(batch, landed, strict=True):
        assert holders[r.anchor_id] == r.customer_id, (fact, r)
        assert r.anchor_id in r.identity_ids.values()
        assert all(holders[i] == r.customer_id for i in r.identity_ids.values())
        assert set(r.identity_ids) <= set(fact)
