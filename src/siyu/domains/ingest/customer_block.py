"""Customer records of an import chunk as columns: cheap to hand from the reader process, written without per-row objects.

The CSV column path (:func:`siyu.domains.ingest.customer_columns.prepare_customer_block`) puts every
record it accepts with no junk identity and a sealed name (or none) into a :class:`CustomerBlock`:
the profile in the columns the customers row stores, owners, times, and each identity column's blind
indexes and normalised values. The writer (:func:`write_customer_block`) does what
``customers.write_customers`` does, with the same stored result: one look-up of the chunk's identities;
a record whose identities all exist on one customer is anchored right there, as the resolver answers
such a fact (it changes nothing in the graph, wherever it sits in the batch); every other record (block
rows with an unknown identity or identities on several customers, and the chunk's per-item records) goes
through the resolver in file order. Profiles are folded per live root in file order and written by the
customers service as ``update_profiles`` writes them; owners open as the per-item path opens them
(tests/domains/ingest/test_customer_columns.py compares both paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.customers import service as customers
from siyu.domains.identity import service as identity
from siyu.domains.ingest.customers import open_owners, write_customers
from siyu.domains.ingest.event_block import anchored, fresh_facts
from siyu.domains.ingest.schemas import IngestResult
from siyu.domains.ingest.service import IngestContext, Prepared, check_batch_size
from siyu.domains.ingest.validation import ItemRejected, rejection
from siyu.kit.time import UTC, utcnow

NAME_COLUMNS = ("name_enc", "name_idx", "name_masked")


@dataclass(slots=True)
class CustomerBlock:
    """Accepted customer records as columns; ``index`` is each row's place among the chunk's outcomes."""

    index: list[int]
    occurred_at: list[datetime | None]
    owner: list[str | None]
    profile: dict[str, list[Any]]  # stored column (a sealed name's three, gender, birthday, region, city, attributes)
    # → per row its value, None where the record leaves it alone; attributes: the record's patch
    kinds: tuple[str, ...]  # one per identity column, in header order
    lookups: list[list[str | None]]  # per identity column: the blind index, None for an empty cell
    values: list[list[str | None]]  # per identity column: the normalised value

    @classmethod
    def empty(cls, kinds: tuple[str, ...]) -> CustomerBlock:
        """Return a block of no rows."""
        return cls([], [], [], {}, kinds, [[] for _k in kinds], [[] for _k in kinds])

    def __len__(self) -> int:
        return len(self.index)

    def to_storage(self) -> CustomerBlock:
        """Return the block as handed to the writing process (its columns already are plain values)."""
        return self


@dataclass
class CustomerPrepared(Prepared):
    """A prepared chunk whose plain records travel as a block (the rest as per-item records in ``items``)."""

    block: CustomerBlock = field(default_factory=lambda: CustomerBlock.empty(()))


def collect_customer_block(ctx: IngestContext, outcomes: list[Any], refs: list[str],
                           block: CustomerBlock) -> CustomerPrepared:
    """Make the prepared chunk of per-record outcomes, an int standing for a block row (as ``collect_customers`` does)."""
    check_batch_size(len(outcomes), ctx.settings.max_batch)
    if len(refs) != len(outcomes):
        raise ValueError("customer records need one reference per item")
    result = IngestResult()
    parsed: list[Any] = []
    for index, outcome in enumerate(outcomes):
        if type(outcome) is int:
            block.index[outcome] = index
        elif isinstance(outcome, ItemRejected):
            result.rejected.append(rejection(index, outcome))
        else:
            parsed.append((index, *outcome))
    return CustomerPrepared(parsed, result, refs, block=block)


def write_customer_block(session: Session, ctx: IngestContext, prepared: Prepared) -> IngestResult:
    """Resolve a prepared chunk's records, write their profiles and owners as ``write_customers`` would; return counts."""
    block = getattr(prepared, "block", None)
    if not block:
        return write_customers(session, ctx, prepared)
    result, parsed, refs = prepared.result, prepared.items, prepared.refs
    identity.lock(session)
    now = utcnow()
    lookups = {lk for col in block.lookups for lk in col if lk is not None}
    lookups.update(entry[3] for _i, _r, norm, _p in parsed for entry in norm.items)
    found = identity.known_identities(session, lookups)  # one look-up, shared with the resolver
    landed: list[Any] = anchored(ctx, block, found)
    # file order of every record: (index, item) for per-item records, (index, block row) for block rows
    order = sorted([(p[0], p) for p in parsed] + [(i, j) for j, i in enumerate(block.index)], key=lambda x: x[0]) \
        if parsed else [(i, j) for j, i in enumerate(block.index)]
    slow = [x for _i, x in order if type(x) is not int or landed[x] is None]
    mine = _resolve(session, ctx, block, slow, found, landed, refs, now) if slow else {}
    _write_profiles(session, ctx, block, order, landed, mine)
    open_owners(session, [(x[1].owner_userid, x[1].occurred_at, mine[id(x)]) if type(x) is not int
                          else (block.owner[x], block.occurred_at[x], _with_ids(block, found, landed[x], x))
                          for _i, x in order if (x[1].owner_userid if type(x) is not int else block.owner[x])], now)
    identity.record_junk(session, [row for i, _r, norm, _p in parsed if norm.junk
                                   for row in identity.junk_issue_rows(norm.junk, "import", refs[i])])
    result.accepted = len(parsed) + len(block)
    result.rejected.sort(key=lambda r: r.index)
    return result


def _resolve(session: Session, ctx: IngestContext, block: CustomerBlock, slow: list[Any], found: dict[str, Any],
             landed: list[Any], refs: list[str], now: datetime) -> dict[int, identity.Resolved]:
    """Resolve the records the look-up did not answer, block rows of all-new people as columns (``FreshFacts``: a
    customer each, and that person's later rows anchored on it); fill in ``landed``; return the per-item records'."""
    cause = ("import", [refs[i] for i in block.index],  # times as SQLite stores them, as FreshFacts takes them
             [(t or now).astimezone(UTC).isoformat(" ", "microseconds")[:26] for t in block.occurred_at])
    fresh, again = fresh_facts(block, slow, found, cause)
    chosen = set(fresh.rows).union(again)
    rest = [x for x in slow if type(x) is not int or x not in chosen] if chosen else slow
    specs = [ctx.ids.kinds.spec(kind) for kind in block.kinds]
    facts = [identity.FactIdentities("import", refs[x[0]][:160], x[1].occurred_at or now, x[2].items)
             if type(x) is not int else _block_fact(block, specs, refs, x, now) for x in rest]
    resolved, made = identity.resolver(session, ctx.ids).resolve_with_fresh(facts, found, fresh)
    if made:  # the fresh rows and their people's later rows: all their identities on one new customer
        found.update(made)  # as the look-up would now find them (owners read these rows' identities there)
        ours = sorted(chosen)
        sub = CustomerBlock(ours, [], [], {}, block.kinds, [[col[j] for j in ours] for col in block.lookups], [])
        for j, hit in zip(ours, anchored(ctx, sub, made), strict=True):
            landed[j] = hit
    for x, r in zip(rest, resolved, strict=True):
        if type(x) is int:
            landed[x] = r
    return {id(x): r for x, r in zip(rest, resolved, strict=True) if type(x) is not int}


def _with_ids(block: CustomerBlock, found: dict[str, Any], landed: Any, j: int) -> identity.Resolved:
    """Return where a block row landed with its identities by kind (as the resolver answers it)."""
    if isinstance(landed, identity.Resolved):
        return landed
    ids = {kind: found[col[j]][0] for kind, col in zip(block.kinds, block.lookups, strict=True) if col[j] is not None}
    return identity.Resolved(landed[0], landed[1], ids)


def _block_fact(block: CustomerBlock, specs: list[Any], refs: list[str], j: int, now: datetime) -> identity.FactIdentities:
    items = [(specs[c], kind, block.values[c][j], lookup)
             for c, kind in enumerate(block.kinds) if (lookup := block.lookups[c][j]) is not None]
    return identity.FactIdentities("import", refs[block.index[j]][:160], block.occurred_at[j] or now, items)


def _write_profiles(session: Session, ctx: IngestContext, block: CustomerBlock, order: list[Any], landed: list[Any],
                    mine: dict[int, identity.Resolved]) -> None:
    """Write every record's profile columns in file order through the customers service."""
    profile = list(block.profile.items())
    fields = {"name" if column in NAME_COLUMNS else column for column in block.profile}
    items: list[tuple[int, dict[str, Any]]] = []
    vault = ctx.ids.vault
    for _i, x in order:
        if type(x) is int:
            values = {column: v for column, col in profile if (v := col[x]) is not None}
            cid = landed[x][1] if type(landed[x]) is tuple else landed[x].customer_id
        elif x[3]:
            values = customers.profile_columns(vault, x[3])
            fields.update(x[3])
            cid = mine[id(x)].customer_id
        else:
            continue
        if values:
            items.append((cid, values))
    if items:
        customers.write_profile_columns(session, items, fields)
