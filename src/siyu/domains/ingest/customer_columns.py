"""Column-wise preparation of CSV customer records: the rules of ``CustomerIn`` and ``customers._parse``, a chunk at a time.

The same idea as the events' column path (:mod:`siyu.domains.ingest.columns`): a CSV chunk's cells
are checked a column at a time (lengths, surrounding spaces, the gender literal, birthdays, times,
attributes' size) and each identity column is normalised and blind-indexed in one pass, with no
item dict and no pydantic model. The path only ever *accepts*: a row it is not sure of (a value with
surrounding spaces, an over-long field, a birthday or time in another form, a refused identity,
attributes near the size limit…) is returned as ``None`` and goes through the per-item path, so every
rejection keeps its code and message. What it accepts is exactly the per-item path's
``(RecordFact, Normalised, profile)`` of the row, and the writer (``customers.write_customers``) is the
same for both (tests/domains/ingest/test_customer_columns.py compares both paths on generated files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from siyu.domains.customers import service as customers
from siyu.domains.ingest.columns import DECLINED, bounded, identity_columns, json_object, utc_time
from siyu.domains.ingest.customer_block import CustomerBlock
from siyu.domains.ingest.customers import RecordFact
from siyu.domains.ingest.service import IngestContext
from siyu.domains.identity import service as identity
from siyu.kit.time import utcnow

# CustomerIn's limits per plain column (characters); gender is a literal, birthday and occurred_at parsed
LIMITS = {"name": 64, "region": 32, "city": 32, "owner_userid": 64}
GENDERS = frozenset({"male", "female", "unknown"})
_DAY = re.compile(r"\d{4}-\d\d-\d\d\Z")
PROFILE = ("name", "gender", "birthday", "region", "city", "attributes")


@dataclass(frozen=True)
class CustomerColumns:
    """Where a customer record's fields sit in a CSV row (built once per file from its header)."""

    width: int
    plain: tuple[tuple[int, str], ...]  # name, gender, birthday, region, city, owner_userid, occurred_at
    attributes: int | None  # the attributes JSON column
    attrs: tuple[tuple[int, str], ...]  # attr.<key> columns
    idents: tuple[tuple[int, str], ...]  # id.<kind> columns


def _birthday(value: str, today: date) -> Any:
    """Return the date of a birthday cell as ``customers._birthday`` reads it, or DECLINED."""
    if not _DAY.match(value) or not value.isascii():
        return DECLINED
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return DECLINED
    return day if date(1900, 1, 1) <= day <= today else DECLINED


def _cells(name: str, column: tuple[str, ...]) -> list[Any]:
    """Return one plain column's values as the per-item path keeps them (None for an empty cell), DECLINED where unsure."""
    if name in LIMITS:
        limit = LIMITS[name]
        return [None if not v else bounded(v, limit) for v in column]
    if name == "gender":
        return [None if not v else v if v in GENDERS else DECLINED for v in column]
    if name == "birthday":
        today = utcnow().date()
        return [None if not v else _birthday(v, today) for v in column]
    return [None if not v else utc_time(v) for v in column]  # occurred_at


def _attributes(ctx: IngestContext, cols: CustomerColumns, columns: list[tuple[str, ...]], n: int) -> list[Any]:
    """Return each row's attributes dict (the JSON column, then attr.<key> cells over it), or DECLINED."""
    keys = [key for _i, key in cols.attrs]
    cells = [columns[i] for i, _key in cols.attrs]
    bags: list[Any] = [{k: v for k, v in zip(keys, row) if v} for row in zip(*cells)] if cells else [{} for _ in range(n)]
    limit = ctx.settings.max_properties_bytes
    if cols.attributes is not None:
        for j, text in enumerate(columns[cols.attributes]):
            if text:
                bags[j] = json_object(text, bags[j], limit)
    for j, bag in enumerate(bags):
        if bag and bag is not DECLINED and len(orjson.dumps(bag, option=orjson.OPT_NON_STR_KEYS)) > limit:
            bags[j] = DECLINED
    return bags


def _checked(ctx: IngestContext, cols: CustomerColumns, rows: list[list[str]]) -> tuple[list[Any], list[Any], list[Any],
                                                                                     list[list[Any]], list[Any] | None]:
    """Return each row's profile values (name sealed) with DECLINED where declined, its owner, its time, and its identities
    (each identity column's entries, and each row's Normalised or DECLINED; None: every cell usable)."""
    n = len(rows)
    empty = [""] * cols.width  # a row of the wrong width declines on its empty identity cells
    columns = list(zip(*[row if len(row) == cols.width else empty for row in rows]))
    fields = {name: _cells(name, columns[i]) for i, name in cols.plain}
    if "name" in fields:  # sealed here as the per-item path seals it (in a reader process: off the writer's CPU)
        vault = ctx.ids.vault
        fields["name"] = [v if v is None or v is DECLINED else customers.seal_name(vault, v) for v in fields["name"]]
    none = [None] * n
    profile = [fields.get(f, none) for f in ("name", "gender", "birthday", "region", "city")]
    profile.append(_attributes(ctx, cols, columns, n))
    owner = [DECLINED if len(row) != cols.width else v for row, v in zip(rows, fields.get("owner_userid", none))]
    when = fields.get("occurred_at", none)
    per_column, norms = identity_columns(ctx, cols, columns)
    return list(zip(*profile)), owner, when, per_column, norms


def prepare_customer_columns(ctx: IngestContext, cols: CustomerColumns,
                             rows: list[list[str]]) -> list[tuple[RecordFact, identity.Normalised, dict[str, Any]] | None]:
    """Return, per row, (RecordFact, Normalised, profile) as the per-item path makes them, or None to leave it to that path."""
    if not rows:
        return []
    values, owner, when, per_column, norms = _checked(ctx, cols, rows)
    out: list[Any] = []
    for j, row in enumerate(values):
        norm = norms[j] if norms is not None else identity.Normalised([col[j] for col in per_column], [])
        if DECLINED in row or owner[j] is DECLINED or when[j] is DECLINED or norm is DECLINED:
            out.append(None)
            continue
        out.append((RecordFact(when[j], owner[j]), norm, {k: v for k, v in zip(PROFILE, row) if v}))
    return out


def prepare_customer_block(ctx: IngestContext, cols: CustomerColumns, rows: list[list[str]]) -> tuple[list[Any], CustomerBlock]:
    """Return, per row, None (left to the per-item path), its row in the returned block, or (RecordFact, Normalised,
    profile) as the per-item path makes it.

    The block holds the accepted rows with no junk identity whose name, if any, is sealed, as columns: the
    profile in the columns the customers row stores, owners, times, each identity column's blind indexes and
    normalised values. Every other accepted row is returned as the per-item path makes it.
    """
    outcomes: list[Any] = [None] * len(rows)
    if not rows:
        return outcomes, CustomerBlock.empty(())
    values, owner, when, per_column, norms = _checked(ctx, cols, rows)
    sel = []
    for j, row in enumerate(values):
        norm = norms[j] if norms is not None else None
        if DECLINED in row or owner[j] is DECLINED or when[j] is DECLINED or norm is DECLINED:
            continue
        if (norm is not None and norm.junk) or (row[0] is not None and type(row[0]) is not customers.SealedName):
            norm = norm or identity.Normalised([col[j] for col in per_column], [])
            outcomes[j] = (RecordFact(when[j], owner[j]), norm, {k: v for k, v in zip(PROFILE, row) if v})
        else:
            outcomes[j] = len(sel)
            sel.append(j)
    picked = [values[j] for j in sel]
    names = [row[0] for row in picked]
    profile: dict[str, list[Any]] = {}
    if any(names):
        for c, column in enumerate(("name_enc", "name_idx", "name_masked")):
            profile[column] = [None if name is None else name[c] for name in names]
    for c, field in enumerate(PROFILE[1:], start=1):
        column = [row[c] or None for row in picked]  # empty attributes: left alone, as the per-item path leaves them
        if any(v is not None for v in column):
            profile[field] = column
    canon: dict[Any, Any] = {}  # one string object per repeated value: pickled once
    for field in ("gender", "region", "city"):
        if field in profile:
            profile[field] = [canon.setdefault(v, v) for v in profile[field]]
    block = CustomerBlock(
        index=[0] * len(sel), occurred_at=[when[j] for j in sel], owner=[owner[j] for j in sel], profile=profile,
        kinds=tuple(kind for _i, kind in cols.idents),
        lookups=[[None if (e := col[j]) is None or type(e[0]) is str else e[3] for j in sel] for col in per_column],
        values=[[None if (e := col[j]) is None or type(e[0]) is str else e[2] for j in sel] for col in per_column])
    return outcomes, block
