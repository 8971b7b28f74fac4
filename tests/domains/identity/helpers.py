"""Shared helpers for identity tests: resolve identity sets and read back the partition."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, text

from siyu.db.engine import unit_of_work
from siyu.db.models import metadata
from siyu.domains.identity import Identity
from siyu.domains.identity import service as identity
from siyu.domains.identity.resolver import FactIdentities, Resolved
from siyu.kit.time import UTC

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def resolve(engine: Engine, ctx: identity.IdentityContext, facts: list[dict[str, Any]], start: int = 0) -> list[Resolved]:
    """Resolve identity dicts as one batch of facts in one transaction."""
    with unit_of_work(engine) as session:
        identity.lock(session)
        built = []
        for n, raw in enumerate(facts, start):
            norm = identity.normalise_all(ctx, raw)
            built.append(FactIdentities("event", f"e{n}", T0 + timedelta(minutes=n), norm.items))
        return identity.resolver(session, ctx).resolve(built)


def partition(engine: Engine, ctx: identity.IdentityContext) -> set[frozenset[str]]:
    """Return the current grouping of identities as sets of 'kind:value' (value via the vault)."""
    with unit_of_work(engine) as session:
        groups: dict[int, set[str]] = {}
        for ident in session.scalars(select(Identity)):
            groups.setdefault(ident.customer_id, set()).add(f"{ident.kind}:{identity.reveal(ctx, ident)}")
        return {frozenset(g) for g in groups.values()}


def wipe(engine: Engine) -> None:
    """Empty every table (between Hypothesis examples)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
