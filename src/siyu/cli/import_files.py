"""Reading import files: formats, CSV layouts, rows with their line numbers, and chunk preparation.

Everything here is CPU-only and runs wherever the caller wants: in the importing process, or in a
reader process that prepares chunks ahead while the importing process writes (see import_cmds).
A prepared chunk is plain picklable data: the rows' line numbers and raw fields (for the rejects
file), rows refused while reading, and the ingestion service's :class:`Prepared` batch.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import orjson

from siyu.domains.ingest.customers import prepare_customers
from siyu.domains.ingest.service import IngestContext, Prepared, prepare_events, prepare_orders
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
class SourceRow:
    """One data row of the file: its first line number, the item (or why there is none) and the raw text."""

    line: int
    item: dict[str, Any] | None
    raw: list[str]
    error: RowError | None = None



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
        if when is not None and when.isdigit():
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


def csv_rows(handle: TextIO, kind: str) -> tuple[list[str], Iterator[SourceRow]]:
    """Return the header and a lazy iterator of rows of a CSV file."""
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("the file is empty: a header row is required", code="missing_columns") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportFileError(f"cannot read the header: {exc}", code="unreadable_file") from exc
    mapper = CsvMapper(kind, header)

    def rows() -> Iterator[SourceRow]:
        """Yield data rows with the line each starts on."""
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ImportFileError(f"line {start}: {exc}", code="unreadable_file") from exc
            line, start = start, reader.line_num + 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            try:
                yield SourceRow(line, mapper(cells), cells)
            except RowError as exc:
                yield SourceRow(line, None, cells, exc)

    return header, rows()


def jsonl_rows(handle: TextIO) -> Iterator[SourceRow]:
    """Yield the rows of a JSON Lines file lazily (blank lines are skipped but counted)."""
    line = 0
    try:
        for text in handle:
            line += 1
            if not text.strip():
                continue
            raw = [text.rstrip("\r\n")]
            try:
                item = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield SourceRow(line, None, raw, RowError("malformed_json", f"not valid JSON: {exc}"))
                continue
            yield SourceRow(line, item, raw)
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"line {line + 1} is not UTF-8: {exc}", code="unreadable_file") from exc




Prepare = Callable[[IngestContext, list[Any], list[str]], Prepared]
PREPARE: dict[str, Prepare] = {
    "events": lambda ctx, items, _refs: prepare_events(ctx, items),
    "orders": lambda ctx, items, _refs: prepare_orders(ctx, items),
    "customers": prepare_customers,
}


@dataclass
class PreparedChunk:
    """One chunk of rows, read and validated; ``good`` are the positions handed to the service."""

    lines: list[int]
    raws: list[list[str]]
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (position, code, reason)
    good: list[int] = field(default_factory=list)
    prepared: Prepared | None = None


def read_rows(handle: TextIO, kind: str, fmt: str) -> tuple[list[str], Iterator[SourceRow]]:
    """Return the header (``["raw"]`` for JSON Lines) and the lazy rows of an open file."""
    if fmt == "csv":
        return csv_rows(handle, kind)
    return ["raw"], jsonl_rows(handle)


def prepare_chunk(ctx: IngestContext, kind: str, rows: list[SourceRow], ref: str) -> PreparedChunk:
    """Validate one chunk's items with the kind's service (no database)."""
    chunk = PreparedChunk([r.line for r in rows], [r.raw for r in rows])
    items, refs = [], []
    for pos, row in enumerate(rows):
        if row.error is not None:
            chunk.refused.append((pos, row.error.code, row.error.message))
        else:
            chunk.good.append(pos)
            items.append(row.item)
            refs.append(f"{ref}:{row.line}")
    if items:
        chunk.prepared = PREPARE[kind](ctx, items, refs)
    return chunk


def prepared_chunks(ctx: IngestContext, kind: str, rows: Iterator[SourceRow], size: int, ref: str) -> Iterator[PreparedChunk]:
    """Yield the prepared chunks of ``rows``, ``size`` rows at a time."""
    while chunk := list(islice(rows, size)):
        yield prepare_chunk(ctx, kind, chunk, ref)
