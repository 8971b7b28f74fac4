"""Column-wise preparation of CSV event rows: the rules of ``EventIn`` and ``_parse_event``, a chunk at a time.

A CSV chunk arrives as rows of strings whose meaning is fixed by the header, so most of what the
per-item path does (build a dict, validate it with pydantic, strip and measure each string, check
the type against the catalogue, parse the time, normalise and blind-index each identity) can be
answered once per column in tight loops, with one verdict per distinct event type. Profiling put
that per-item work at about half of an import's time.

The fast path only ever *accepts*. A row it is not sure of (a value with surrounding whitespace,
an over-long field, a timestamp in another form, a type with required properties or a channel-code
state, an identity that is invalid, too many or none, properties near the size limit) is returned
as ``None`` and goes through the per-item path unchanged, so every rejection keeps its code and
message, and what the fast path accepts equals what the per-item path would make of the row
(tests/domains/ingest/test_columns.py compares both on generated rows).

``siyu import`` calls :func:`prepare_event_block`: accepted rows that need nothing but storing leave
here as an :class:`~siyu.domains.ingest.event_block.EventBlock` of plain columns (in a reader
process turned into the text the events table stores), which the writing process takes without
unpickling or building an object per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from siyu.domains.events import check_type
from siyu.domains.identity import service as identity
from siyu.domains.ingest.event_block import EventBlock
from siyu.domains.ingest.service import DISPATCHED, EventFact, IngestContext
from siyu.kit.time import UTC

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECONDS_MAX = 20_000_000_000  # the API (pydantic) reads larger epoch numbers as milliseconds
MILLIS_MAX = 100_000_000_000_000  # year 5138: beyond, the per-item path decides
# the common ISO-8601 forms with an offset; any other form goes to the per-item parser
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
                  r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)\Z")
MAX_IDENTITIES = 12  # EventIn.identities max_length
DECLINED = object()  # a cell the fast path declines: its row goes through the per-item path


@dataclass(frozen=True)
class EventColumns:
    """Where an event's fields sit in a CSV row (built once per file from its header)."""

    width: int
    event_id: int
    type: int
    occurred_at: int
    channel: int | None
    properties: int | None  # a JSON column
    props: tuple[tuple[int, str], ...]  # prop.<key> columns
    idents: tuple[tuple[int, str], ...]  # id.<kind> columns


def _plain_type(value: str) -> bool:
    """Return whether events of this type need no check beyond the catalogue (no required property, no state)."""
    if not 0 < len(value) <= 80 or value.strip() is not value or value == "contact_added":
        return False
    try:
        return check_type(value) == ()
    except ValueError:
        return False


def utc_time(value: str) -> Any:
    """Return the UTC time of an occurred_at cell as the API reads it, or DECLINED."""
    if value.isdigit() and value.isascii():  # epoch seconds or milliseconds
        number = int(value)
        if number <= SECONDS_MAX:
            return EPOCH + timedelta(seconds=number)
        return EPOCH + timedelta(milliseconds=number) if number < MILLIS_MAX else DECLINED
    if _ISO.match(value):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):  # a day, an offset or the UTC time out of range: the per-item path says which
            return DECLINED
    return DECLINED


def bounded(value: str, limit: int) -> Any:
    """Return a non-empty cell of at most ``limit`` characters without surrounding spaces, else DECLINED."""
    return value if 0 < len(value) <= limit and value.strip() is value else DECLINED


def _properties(ctx: IngestContext, cols: EventColumns, columns: list[tuple[str, ...]], n: int) -> list[Any]:
    """Return each row's properties dict (the JSON column, then prop.<key> cells over it), or DECLINED."""
    keys = [key for _i, key in cols.props]
    cells = [columns[i] for i, _key in cols.props]
    bags: list[Any] = [{k: v for k, v in zip(keys, row) if v} for row in zip(*cells)] if cells else [{} for _ in range(n)]
    limit = ctx.settings.max_properties_bytes
    if cols.properties is not None:
        for j, text in enumerate(columns[cols.properties]):
            if text:
                bags[j] = json_object(text, bags[j], limit)
    # every character takes at most 6 bytes of JSON (\\u00XX): below that bound no prop.<key> bag needs measuring
    bound = 2 + sum(6 * (len(key) + max(map(len, col), default=0)) + 6 for key, col in zip(keys, cells))
    if bound > limit:
        for j, bag in enumerate(bags):
            if bag and bag is not DECLINED and len(orjson.dumps(bag)) > limit:
                bags[j] = DECLINED
    return bags


def json_object(text: str, cells: dict[str, str], limit: int) -> Any:
    """Return a JSON object cell with ``cells`` laid over it if the API would take it as is and it fits ``limit``, else DECLINED."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return DECLINED
    if type(doc) is not dict or any(key.strip() is not key for key in doc):
        return DECLINED  # not an object, or keys the API would strip
    doc.update(cells)
    return doc if len(orjson.dumps(doc)) <= limit else DECLINED


def identity_columns(ctx: IngestContext, cols: Any, columns: list[tuple[str, ...]]) -> tuple[list[list[Any]], list[Any] | None]:
    """Return each identity column's entries and each row's Normalised identities or DECLINED (None: every cell usable).

    ``cols.idents`` holds the (position, kind) of the identity columns (events' or customers' layout).
    """
    kinds = [kind for _i, kind in cols.idents]
    per_column, clean = [], True
    for i, kind in cols.idents:
        entries, full = identity.normalise_column(ctx.ids, kind, columns[i])
        per_column.append(entries)
        clean = clean and full
    if clean and len(kinds) <= MAX_IDENTITIES:  # every cell a usable identity: the common file
        return per_column, None
    out: list[Any] = []
    for entries in zip(*per_column):
        items: list[Any] = []
        junk: list[tuple[str, str]] = []
        for kind, entry in zip(kinds, entries):
            if entry is None:
                continue
            if type(entry) is not tuple:  # refused: the per-item path gives the reason
                break
            if type(entry[0]) is str:  # ("junk", masked)
                junk.append((kind, entry[1]))
            else:
                items.append(entry)
        else:
            if items and len(items) + len(junk) <= MAX_IDENTITIES:
                out.append(identity.Normalised(items, junk))
                continue
        out.append(DECLINED)
    return per_column, out


def _checked(ctx: IngestContext, cols: EventColumns, rows: list[list[str]]) -> tuple[list[tuple[Any, ...]], list[list[Any]], list[Any] | None]:
    """Return each row's (event_id, type, occurred_at, channel, properties) with DECLINED where declined, and its identities."""
    n = len(rows)
    empty = [""] * cols.width  # a row of the wrong width declines on its empty event_id
    columns = list(zip(*[row if len(row) == cols.width else empty for row in rows]))
    event_ids = [bounded(v, 128) for v in columns[cols.event_id]]
    verdicts = {v: v if _plain_type(v) else DECLINED for v in set(columns[cols.type])}  # one string per type
    types = [verdicts[v] for v in columns[cols.type]]
    whens = [utc_time(v) for v in columns[cols.occurred_at]]
    channels = [None if not v else bounded(v, 64) for v in columns[cols.channel]] if cols.channel is not None else [None] * n
    props = _properties(ctx, cols, columns, n)
    per_column, norms = identity_columns(ctx, cols, columns)
    return list(zip(event_ids, types, whens, channels, props)), per_column, norms


def _normalised(per_column: list[list[Any]], norms: list[Any] | None, j: int) -> Any:
    return norms[j] if norms is not None else identity.Normalised([col[j] for col in per_column], [])


def prepare_event_columns(ctx: IngestContext, cols: EventColumns, rows: list[list[str]]) -> list[Any]:
    """Return, per row, (EventFact, Normalised) as the per-item path would make them, or None to leave it to that path."""
    if not rows:
        return []
    fields, per_column, norms = _checked(ctx, cols, rows)
    return [None if DECLINED in f or (norms is not None and norms[j] is DECLINED) else
            (EventFact._make(f), _normalised(per_column, norms, j)) for j, f in enumerate(fields)]


def prepare_event_block(ctx: IngestContext, cols: EventColumns, rows: list[list[str]]) -> tuple[list[Any], EventBlock]:
    """Return, per row, None (left to the per-item path), its row in the returned block, or (EventFact, Normalised).

    The block holds the accepted rows the writer may store without building any object (no junk
    identity, no type another domain handles) as columns: the fields (times in UTC), each identity
    column's blind indexes and normalised values. Every other accepted row is returned as the
    per-item path makes it.
    """
    outcomes: list[Any] = [None] * len(rows)
    if not rows:
        return outcomes, EventBlock.empty(())
    fields, per_column, norms = _checked(ctx, cols, rows)
    sel = []
    for j, f in enumerate(fields):
        if DECLINED in f or (norms is not None and norms[j] is DECLINED):
            continue
        if f[1] in DISPATCHED or (norms is not None and norms[j].junk):
            outcomes[j] = (EventFact._make(f), _normalised(per_column, norms, j))
        else:
            outcomes[j] = len(sel)
            sel.append(j)
    canon: dict[Any, Any] = {}  # one string object per repeated value: pickled once
    block = EventBlock(
        index=[0] * len(sel),
        event_id=[fields[j][0] for j in sel],
        type=[fields[j][1] for j in sel],
        occurred_at=[fields[j][2] for j in sel],
        channel=[canon.setdefault(c, c) for c in (fields[j][3] for j in sel)],
        properties=[fields[j][4] for j in sel],
        kinds=tuple(kind for _i, kind in cols.idents),
        lookups=[[None if (e := col[j]) is None else e[3] for j in sel] for col in per_column],
        values=[[None if (e := col[j]) is None else e[2] for j in sel] for col in per_column])
    return outcomes, block
