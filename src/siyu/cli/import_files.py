"""Reading import files: formats, CSV layouts, rows with their line numbers, and chunk preparation.

Everything here is CPU-only and runs wherever the caller wants: in the importing process, or in a
reader process that prepares chunks ahead while the importing process writes (see import_cmds).
A prepared chunk is plain picklable data: the rows' line numbers and raw fields (for the rejects
file), rows refused while reading, and the ingestion service's :class:`Prepared` batch.

CSV rows are kept as read (lists of strings) until a chunk is prepared: event files then go
through the column-wise fast path of :mod:`siyu.domains.ingest.columns`, and only the rows it
declines are turned into API items one by one.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from siyu.domains.ingest.columns import EventColumns, prepare_event_block
from siyu.domains.ingest.customer_block import CustomerBlock, collect_customer_block
from siyu.domains.ingest.customer_columns import CustomerColumns, prepare_customer_block
from siyu.domains.ingest.customers import customer_outcome
from siyu.domains.ingest.event_block import EventBlock, collect_block
from siyu.domains.ingest.order_fast import prepare_orders_quick
from siyu.domains.ingest.service import IngestContext, Prepared, event_outcome
from siyu.errors import ValidationFailed

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True)
class Layout:
    """The CSV columns of one kind of import."""

    required: tuple[str, ...]
    plain: tuple[str, ...]
    json_columns: tuple[str, ...]
    prefixes: tuple[str, ...]
    needs_identity: bool


LAYOUTS = {
    "events": Layout(("event_id", "type", "occurred_at"), ("event_id", "type", "occurred_at", "channel"),
                     ("properties",), ("id.", "prop."), True),
    "orders": Layout(("order_id", "status", "occurred_at", "amount"),
                     ("order_id", "status", "occurred_at", "amount", "currency", "refund_amount", "refund_id",
                      "channel", "store"), ("items", "properties"), ("id.", "prop."), False),
    "customers": Layout((), ("name", "gender", "birthday", "region", "city", "owner_userid", "occurred_at"),
                        ("attributes",), ("id.", "attr."), True),
}
BAG = {"prop.": "properties", "attr.": "attributes"}


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be imported (exit code 2)."""

    code = "import_file_error"


class RowError(Exception):
    """One row cannot be turned into an item."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(slots=True)
class RawChunk:
    """Rows as read: the line each starts on and its raw fields; for JSON Lines also each item or why there is none."""

    lines: list[int]
    raws: list[list[str]]
    items: list[Any] | None = None


class CsvMapper:
    """Turns CSV cells into an API item according to the header and the kind's layout."""

    def __init__(self, kind: str, header: list[str]):
        layout = LAYOUTS[kind]
        self.width = len(header)
        self.plain: list[tuple[int, str]] = []
        self.json: list[tuple[int, str]] = []
        self.idents: list[tuple[int, str]] = []
        self.bags: list[tuple[int, str, str]] = []
        unknown = []
        for index, raw_name in enumerate(header):
            name = raw_name.strip()
            prefix = next((p for p in layout.prefixes if name.startswith(p) and len(name) > len(p)), None)
            if prefix == "id.":
                self.idents.append((index, name[3:]))
            elif prefix is not None:
                self.bags.append((index, BAG[prefix], name[len(prefix):]))
            elif name in layout.plain:
                self.plain.append((index, name))
            elif name in layout.json_columns:
                self.json.append((index, name))
            else:
                unknown.append(name or f"(column {index + 1})")
        names = {n.strip() for n in header}
        missing = [c for c in layout.required if c not in names]
        if layout.needs_identity and not self.idents:
            missing.append("id.<kind> (at least one identity column)")
        if missing:
            raise ImportFileError(f"missing required column(s): {', '.join(missing)}", code="missing_columns")
        if unknown:
            allowed = ", ".join((*layout.plain, *layout.json_columns, *(p + "<name>" for p in layout.prefixes)))
            raise ImportFileError(f"unknown column(s): {', '.join(unknown)}; {kind} files take {allowed}",
                                  code="unknown_columns")

    def __call__(self, cells: list[str]) -> dict[str, Any]:
        """Return the item of one row; raise RowError when it cannot be built."""
        if len(cells) != self.width:
            raise RowError("wrong_column_count", f"row has {len(cells)} cells; the header has {self.width}")
        item: dict[str, Any] = {name: cells[i] for i, name in self.plain if cells[i] != ""}
        when = item.get("occurred_at")
        if when is not None and when.isdigit() and when.isascii():
            item["occurred_at"] = int(when)  # epoch seconds or milliseconds, as the API takes them
        for i, name in self.json:
            if cells[i] != "":
                try:
                    item[name] = orjson.loads(cells[i])
                except orjson.JSONDecodeError as exc:
                    raise RowError("malformed_json", f"column {name} is not valid JSON: {exc}") from exc
        for i, bag, key in self.bags:
            if cells[i] != "":
                target = item.setdefault(bag, {})
                if not isinstance(target, dict):
                    raise RowError("invalid_type", f"column {bag} must hold a JSON object")
                target[key] = cells[i]
        item["identities"] = {kind: cells[i] for i, kind in self.idents if cells[i] != ""}
        return item

    def _columnar(self) -> bool:
        """Return whether the column paths may read this header (no name repeated or untrimmed)."""
        kinds, keys = [kind for _i, kind in self.idents], [key for _i, _bag, key in self.bags]
        names = [name for _i, name in (*self.plain, *self.json)]
        return not (any(len(set(group)) != len(group) for group in (kinds, keys, names))
                    or any(key.strip() != key for key in (*kinds, *keys)))

    def customer_columns(self) -> CustomerColumns | None:
        """Return where a customer record's fields sit, or None when the header needs the per-row path."""
        if not self._columnar():
            return None
        return CustomerColumns(self.width, tuple(self.plain), next((i for i, n in self.json if n == "attributes"), None),
                               tuple((i, key) for i, _bag, key in self.bags), tuple(self.idents))

    def event_columns(self) -> EventColumns | None:
        """Return where an event's fields sit, or None when the header needs the per-row path (names repeated or untrimmed)."""
        if not self._columnar():
            return None
        plain, json_columns = {n: i for i, n in self.plain}, {n: i for i, n in self.json}
        return EventColumns(self.width, plain["event_id"], plain["type"], plain["occurred_at"], plain.get("channel"),
                            json_columns.get("properties"), tuple((i, key) for i, _bag, key in self.bags), tuple(self.idents))


def detect_format(path: Path, fmt: str | None) -> str:
    """Return 'csv' or 'jsonl' from --format or the file extension; raise ImportFileError otherwise."""
    if fmt:
        if fmt not in ("csv", "jsonl", "ndjson"):
            raise ImportFileError(f"unknown format {fmt!r}; use csv or jsonl", code="unknown_format")
        return "jsonl" if fmt == "ndjson" else fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise ImportFileError(f"cannot tell the format of {path.name}: name it .csv, .jsonl or .ndjson, or pass "
                              "--format csv|jsonl", code="unknown_format")
    return found


def open_text(path: Path) -> TextIO:
    """Open ``path`` for reading as UTF-8 (a BOM is skipped); raise ImportFileError if it cannot be read."""
    try:
        if path.is_dir():
            raise ImportFileError(f"{path} is a directory", code="unreadable_file")
        return path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}", code="unreadable_file") from exc


class CsvSource:
    """A CSV file's header and its rows, read in chunks; rows become items only when the fast path declines them."""

    def __init__(self, handle: TextIO, kind: str):
        self.reader = csv.reader(handle)
        try:
            self.header = next(self.reader)
        except StopIteration:
            raise ImportFileError("the file is empty: a header row is required", code="missing_columns") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFileError(f"cannot read the header: {exc}", code="unreadable_file") from exc
        self.mapper = CsvMapper(kind, self.header)
        self.events = self.mapper.event_columns() if kind == "events" else None
        self.customers = self.mapper.customer_columns() if kind == "customers" else None

    def chunks(self, size: int) -> Iterator[RawChunk]:
        """Yield the data rows ``size`` at a time with the line each starts on (blank rows are skipped)."""
        reader, width = self.reader, self.mapper.width
        end = reader.line_num
        lines: list[int] = []
        raws: list[list[str]] = []
        try:
            for cells in reader:
                start, end = end + 1, reader.line_num
                if (len(cells) != width or width == 1) and (not cells or (len(cells) == 1 and not cells[0].strip())):
                    continue
                lines.append(start)
                raws.append(cells)
                if len(raws) == size:
                    yield RawChunk(lines, raws)
                    lines, raws = [], []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFileError(f"line {end + 1}: {exc}", code="unreadable_file") from exc
        if raws:
            yield RawChunk(lines, raws)

    def item(self, chunk: RawChunk, pos: int) -> Any:
        """Return the API item of one row, or the RowError that says why there is none."""
        try:
            return self.mapper(chunk.raws[pos])
        except RowError as exc:
            return exc


class JsonlSource:
    """A JSON Lines file: one API item per line (blank lines are skipped but counted)."""

    header = ["raw"]
    events = None
    customers = None

    def __init__(self, handle: TextIO):
        self.handle = handle

    def chunks(self, size: int) -> Iterator[RawChunk]:
        """Yield the lines ``size`` at a time, each parsed, with its line number."""
        line = 0
        chunk = RawChunk([], [], [])
        try:
            for text in self.handle:
                line += 1
                if not text.strip():
                    continue
                chunk.lines.append(line)
                chunk.raws.append([text.rstrip("\r\n")])
                try:
                    chunk.items.append(orjson.loads(text))  # type: ignore[union-attr]
                except orjson.JSONDecodeError as exc:
                    chunk.items.append(RowError("malformed_json", f"not valid JSON: {exc}"))  # type: ignore[union-attr]
                if len(chunk.lines) == size:
                    yield chunk
                    chunk = RawChunk([], [], [])
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"line {line + 1} is not UTF-8: {exc}", code="unreadable_file") from exc
        if chunk.lines:
            yield chunk

    @staticmethod
    def item(chunk: RawChunk, pos: int) -> Any:
        """Return the parsed item of one line, or the RowError that says why there is none."""
        return chunk.items[pos]  # type: ignore[index]


Source = CsvSource | JsonlSource


def open_source(handle: TextIO, kind: str, fmt: str) -> Source:
    """Return the rows of an open file (a CSV header is read and checked here, before any write)."""
    return CsvSource(handle, kind) if fmt == "csv" else JsonlSource(handle)


Prepare = Callable[[IngestContext, list[Any], list[str]], Prepared]
PREPARE: dict[str, Prepare] = {
    "orders": lambda ctx, items, _refs: prepare_orders_quick(ctx, items),
}


@dataclass
class PreparedChunk:
    """One chunk of rows, read and validated; ``good`` are the positions handed to the service."""

    lines: list[int]
    raws: list[list[str]]
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (position, code, reason)
    good: list[int] = field(default_factory=list)
    prepared: Prepared | None = None

    def slim(self) -> PreparedChunk:
        """Make the chunk cheap to hand to the writing process: the block in storage form, and the raw fields
        only of rows that may still go to the rejects file (not a block's)."""
        block = getattr(self.prepared, "block", None)
        if block:
            block.to_storage()  # lists of strings: cheap to unpickle
            plain = {self.good[i] for i in block.index}
            self.raws = {pos: raw for pos, raw in enumerate(self.raws) if pos not in plain}  # type: ignore[assignment]
        return self


def _prepare_events(ctx: IngestContext, source: Source, raw: RawChunk, chunk: PreparedChunk) -> None:
    if source.events:
        fast, block = prepare_event_block(ctx, source.events, raw.raws)
    else:
        fast, block = [None] * len(raw.lines), EventBlock.empty(())
    # each: a block row's number, a per-item fact, or why it is rejected
    outcomes = [done for _, done in _decided(source, raw, chunk, fast, lambda item: event_outcome(ctx, item))]
    if outcomes:
        chunk.prepared = collect_block(outcomes, block)


def _decided(source: Source, raw: RawChunk, chunk: PreparedChunk, fast: list[Any],
             decide: Callable[[Any], Any]) -> Iterator[tuple[int, Any]]:
    """Yield each readable row's position and outcome: the column-wise path's, else ``decide``'s of its item.

    Rows the column-wise path declined (and every JSON Lines row) are read as items; an unreadable one is
    recorded as refused, the others marked good.
    """
    for pos, done in enumerate(fast):
        if done is None:  # declined by the column-wise path (or JSON Lines): the per-item path decides
            item = source.item(raw, pos)
            if isinstance(item, RowError):
                chunk.refused.append((pos, item.code, item.message))
                continue
            done = decide(item)
        chunk.good.append(pos)
        yield pos, done


def _prepare_customers(ctx: IngestContext, source: Source, raw: RawChunk, chunk: PreparedChunk, ref: str) -> None:
    if source.customers:
        fast, block = prepare_customer_block(ctx, source.customers, raw.raws)
    else:
        fast, block = [None] * len(raw.lines), CustomerBlock.empty(())
    # each: a block row's number, a per-item record, or why it is rejected
    outcomes, refs = [], []
    for pos, done in _decided(source, raw, chunk, fast, lambda item: customer_outcome(ctx, item)):
        outcomes.append(done)
        refs.append(f"{ref}:{raw.lines[pos]}")
    if outcomes:
        chunk.prepared = collect_customer_block(ctx, outcomes, refs, block)


def prepare_chunk(ctx: IngestContext, kind: str, source: Source, raw: RawChunk, ref: str) -> PreparedChunk:
    """Validate one chunk's rows with the kind's service (no database)."""
    chunk = PreparedChunk(raw.lines, raw.raws)
    if kind == "events":
        _prepare_events(ctx, source, raw, chunk)
        return chunk
    if kind == "customers":
        _prepare_customers(ctx, source, raw, chunk, ref)
        return chunk
    items, refs = [], []
    for pos in range(len(raw.lines)):
        item = source.item(raw, pos)
        if isinstance(item, RowError):
            chunk.refused.append((pos, item.code, item.message))
            continue
        chunk.good.append(pos)
        items.append(item)
        refs.append(f"{ref}:{raw.lines[pos]}")
    if items:
        chunk.prepared = PREPARE[kind](ctx, items, refs)
    return chunk


def prepared_chunks(ctx: IngestContext, kind: str, source: Source, size: int, ref: str) -> Iterator[PreparedChunk]:
    """Yield the prepared chunks of ``source``, ``size`` rows at a time."""
    for raw in source.chunks(size):
        yield prepare_chunk(ctx, kind, source, raw, ref)
