"""The bulk loader's in-memory graph resolves exactly as the SQL resolver does.

Any sequence of facts (identities drawn from small pools, unique-per-person kinds included, so that
facts merge customers, meet conflicts and repeat), cut into any batches, gets the same answer per
fact (anchor, customer, identities) from :class:`MemoryGraph` as from
:class:`siyu.domains.identity.resolver.Resolver`, and leaves the same rows: customers, identities,
merges, links and review entries, ids included.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from sqlalchemy import Engine, text

from domains.identity.helpers import T0, wipe
from siyu.db.engine import unit_of_work
from siyu.domains.identity import service as identity
from siyu.domains.identity.resolver import FactIdentities
from siyu.domains.ingest import bulk_repository as repo
from siyu.domains.ingest.bulk_graph import MemoryGraph
from siyu.kit.time import utcnow

POOL = {"openid:wxa": ["oAAAAAA1", "oAAAAAA2", "oAAAAAA3"], "external_userid": ["wmAAAAAA1", "wmAAAAAA2"],
        "phone": ["13800000001", "13800000002", "13800000003"], "unionid": ["uAAAAAA1", "uAAAAAA2"],
        "member_no": ["M001", "M002"]}
TABLES = {
    "customers": "id, merged_into_id, first_seen_at, gender, attributes",
    "identities": "id, kind, lookup, value, masked, customer_id, origin_customer_id, cause_type, cause_ref",
    "merges": "id, survivor_id, merged_id, identity_ids, via_identity_ids, cause_type, cause_ref",
    "identity_links": "a_id, b_id, cause_type, cause_ref",  # ids: PostgreSQL spends sequence values on clashes
    "identity_issues": "category, kind, value_masked, customer_id, other_customer_id, cause_type, cause_ref, detail",
}
JSON_COLUMNS = {"attributes", "identity_ids", "via_identity_ids", "detail"}
PROFILE = hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

fact = st.lists(st.sampled_from([(k, v) for k, vs in POOL.items() for v in vs]), min_size=1, max_size=3,
                unique_by=lambda kv: kv[0]).map(dict)
story = st.lists(st.tuples(fact, st.integers(0, 40)), min_size=1, max_size=16)  # identities, minutes after T0


@pytest.fixture
def ctx(settings):
    return identity.IdentityContext.from_settings(settings)


def _calls(ctx, facts, cuts):
    """Return the facts as resolver calls: [(n, FactIdentities)] per call."""
    built = [(n, FactIdentities("event", f"e{n}", T0 + timedelta(minutes=m), identity.normalise_all(ctx, raw).items))
             for n, (raw, m) in enumerate(facts)]
    bounds = sorted({0, len(built), *(c for c in cuts if c < len(built))})
    return [built[a:b] for a, b in zip(bounds, bounds[1:])]


def _tables(engine: Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for name, cols in TABLES.items():
            names = [c.strip() for c in cols.split(",")]
            rows = [tuple(json.loads(v) if c in JSON_COLUMNS and isinstance(v, str) else v for c, v in zip(names, r))
                    for r in conn.execute(text(f"SELECT {cols} FROM {name}"))]
            out[name] = sorted(rows, key=repr)
    return out


@PROFILE
@given(facts=story, cuts=st.lists(st.integers(1, 15), max_size=4))
def test_memory_graph_equals_the_sql_resolver(db_engine, ctx, facts, cuts):
    wipe(db_engine)
    calls = _calls(ctx, facts, cuts)
    expected = []
    for call in calls:
        with unit_of_work(db_engine) as session:
            identity.lock(session)
            resolved = identity.resolver(session, ctx).resolve([f for _n, f in call])
        expected += [(r.anchor_id, r.customer_id, r.identity_ids) for r in resolved]
    want = _tables(db_engine)
    wipe(db_engine)
    with unit_of_work(db_engine) as session:
        graph = MemoryGraph(ctx.kinds, ctx.vault, repo.top_ids(session.connection(), TABLES))
    got = []
    for number, call in enumerate(calls):
        got += graph.resolve([(f.cause_type, f.cause_ref, int(f.occurred_at.timestamp()), f.items) for _n, f in call],
                             utcnow())
        if number == 1:  # rows flushed mid-way are updated at the end
            with unit_of_work(db_engine) as session:
                graph.flush(session.connection())
    with unit_of_work(db_engine) as session:
        graph.finish(session.connection())
    assert got == expected
    assert _tables(db_engine) == want
