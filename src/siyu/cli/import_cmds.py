"""``siyu import customers|orders|events FILE``: bulk loads through the same ingestion services as the API.

The file is streamed: rows are read lazily and handed on in chunks (2,000 by default), each chunk
one transaction through ``ingest_events`` / ``ingest_orders`` / ``ingest_customers``, so memory
stays flat however large the file and every rule of the API (validation, idempotency, OneID,
channel codes, groups, ownership) applies unchanged. A row the services refuse, or that cannot
even be turned into an item (a broken JSON cell, a short CSV row), is written to
``FILE.rejects.csv`` with its line number, code and reason next to the original fields.

Exit codes: 0 when the import ran (rejected rows are counted and reported, not fatal); 2 when the
file cannot be read, its format is unknown or its header lacks required columns; 1 when a service
refuses a whole chunk.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import orjson
import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tqdm import tqdm

from siyu.cli.common import engine as configured_engine
from siyu.cli.common import session_scope
from siyu.cli.common import settings as configured_settings
from siyu.config import Settings
from siyu.domains.ingest.customers import ingest_customers
from siyu.domains.ingest.schemas import IngestResult
from siyu.domains.ingest.service import IngestContext, ingest_events, ingest_orders
from siyu.errors import ValidationFailed

CHUNK = 2000
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

COLUMN_HELP = """

\b
CSV: a header row, then one row per item; empty cells mean absent.
  all kinds  id.<kind>: one column per identity kind, e.g. id.phone,
             id.unionid, id.external_userid, id.openid:wx123; occurred_at:
             ISO-8601 with offset, or epoch seconds/milliseconds
  events     event_id, type, occurred_at (required), channel;
             prop.<name> columns (strings) or a properties JSON column
  orders     order_id, status, occurred_at, amount (required), currency,
             refund_amount, refund_id, channel, store; items: a JSON
             array of {sku, name, category, quantity, unit_price};
             prop.<name> or properties as for events
  customers  name, gender, birthday (YYYY-MM-DD), region, city,
             owner_userid, occurred_at; attr.<name> columns or an
             attributes JSON column
JSON Lines (.jsonl, .ndjson): one API item per line, as the HTTP API
takes them. Refused rows go to FILE.rejects.csv (line, code, reason,
original fields). See docs/import.md.
"""


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


@dataclass
class ImportSummary:
    """What one import did."""

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    chunks: int = 0
    max_chunk: int = 0
    seconds: float = 0.0
    rejects_path: Path | None = None
    codes: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        """Return rows read per second of wall time."""
        return self.read / self.seconds if self.seconds > 0 else 0.0


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


class RejectsWriter:
    """Writes refused rows to ``FILE.rejects.csv``, created on the first refusal."""

    def __init__(self, path: Path, header: list[str]):
        self.path, self.header = path, header
        self._handle: TextIO | None = None
        self._writer: Any = None
        if path.exists():
            path.unlink()  # a stale file from an earlier run would be misleading

    def write(self, row: SourceRow, code: str, reason: str) -> None:
        """Append one refused row."""
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "code", "reason", *self.header])
        self._writer.writerow([row.line, code, reason, *row.raw])

    def close(self) -> None:
        """Close the file if one was written."""
        if self._handle is not None:
            self._handle.close()


Ingest = Callable[[Session, IngestContext, list[Any], list[str]], IngestResult]


def _service(kind: str) -> Ingest:
    if kind == "customers":
        return ingest_customers
    fn = ingest_events if kind == "events" else ingest_orders
    return lambda session, ctx, items, _refs: fn(session, ctx, items)


def _chunks(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _note(summary: ImportSummary, code: str) -> None:
    summary.rejected += 1
    summary.codes[code] = summary.codes.get(code, 0) + 1


def _run_chunk(eng: Engine, ctx: IngestContext, ingest: Ingest, chunk: list[SourceRow], ref: str,
               rejects: RejectsWriter, summary: ImportSummary) -> None:
    good = [r for r in chunk if r.error is None]
    refused = [(r, r.error.code, r.error.message) for r in chunk if r.error is not None]
    if good:
        with session_scope(eng) as session:
            result = ingest(session, ctx, [r.item for r in good], [f"{ref}:{r.line}" for r in good])
        summary.accepted += result.accepted
        summary.duplicates += result.duplicates
        refused.extend((good[rej.index], rej.code, rej.message) for rej in result.rejected)
    for row, code, reason in sorted(refused, key=lambda x: x[0].line):
        rejects.write(row, code, reason)
        _note(summary, code)
    summary.read += len(chunk)
    summary.chunks += 1
    summary.max_chunk = max(summary.max_chunk, len(chunk))


def run_import(kind: str, path: Path, *, eng: Engine, settings: Settings, fmt: str | None = None,
               chunk_size: int = CHUNK, progress: bool = False, ingest: Ingest | None = None) -> ImportSummary:
    """Import one file of ``kind`` in chunks of ``chunk_size`` rows, one transaction each; return the summary."""
    if kind not in LAYOUTS:
        raise ImportFileError(f"unknown import kind {kind!r}", code="unknown_kind")
    fmt = detect_format(path, fmt)
    ctx = IngestContext.from_settings(settings.model_copy(update={"max_batch": max(chunk_size, settings.max_batch)}))
    summary = ImportSummary()
    started = time.perf_counter()
    with open_text(path) as handle:
        if fmt == "csv":
            header, rows = csv_rows(handle, kind)
        else:
            header, rows = ["raw"], jsonl_rows(handle)
        rejects = RejectsWriter(path.with_name(path.name + ".rejects.csv"), header)
        bar = tqdm(unit=" rows", disable=not progress, file=sys.stderr, mininterval=0.5,
                   desc=f"import {kind}")
        try:
            for chunk in _chunks(rows, chunk_size):
                _run_chunk(eng, ctx, ingest or _service(kind), chunk, path.name, rejects, summary)
                bar.update(len(chunk))
        finally:
            bar.close()
            rejects.close()
    summary.seconds = time.perf_counter() - started
    summary.rejects_path = rejects.path if summary.rejected else None
    return summary


def _report(kind: str, path: Path, s: ImportSummary) -> None:
    typer.echo(f"{kind} from {path}: read {s.read:,} rows; accepted {s.accepted:,}, duplicates {s.duplicates:,}, "
               f"rejected {s.rejected:,}; {s.seconds:.1f} s, {s.rows_per_second:,.0f} rows/s")
    if s.rejected:
        top = ", ".join(f"{code} {n:,}" for code, n in sorted(s.codes.items(), key=lambda kv: -kv[1])[:5])
        typer.echo(f"{s.rejected:,} rejected rows ({top}) written to {s.rejects_path}")


def _command(kind: str, path: Path, fmt: str | None, chunk_size: int, progress: bool) -> None:
    try:
        summary = run_import(kind, path, eng=configured_engine(), settings=configured_settings(), fmt=fmt,
                             chunk_size=chunk_size, progress=progress)
    except ImportFileError as exc:
        typer.echo(f"error [{exc.code}]: {path}: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    _report(kind, path, summary)


app = typer.Typer(no_args_is_help=True, help="Import customers, orders or events from CSV or JSON Lines."
                  + COLUMN_HELP, rich_markup_mode=None)

FILE = typer.Argument(..., help="A .csv, .jsonl or .ndjson file.", show_default=False)
FORMAT = typer.Option(None, "--format", help="csv or jsonl (default: from the file extension).")
CHUNK_OPT = typer.Option(CHUNK, "--chunk-size", min=1, max=10000, help="Rows per transaction.")
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show a progress bar with rows/s on stderr.")


@app.command("customers", help="Import customer records (identities, profile, owner)." + COLUMN_HELP)
def import_customers(file: Path = FILE, fmt: str | None = FORMAT, chunk_size: int = CHUNK_OPT,
                     progress: bool = PROGRESS) -> None:
    """Import customer records from FILE."""
    _command("customers", file, fmt, chunk_size, progress)


@app.command("orders", help="Import order facts (one row per state of an order)." + COLUMN_HELP)
def import_orders(file: Path = FILE, fmt: str | None = FORMAT, chunk_size: int = CHUNK_OPT,
                  progress: bool = PROGRESS) -> None:
    """Import order facts from FILE."""
    _command("orders", file, fmt, chunk_size, progress)


@app.command("events", help="Import behavioural events." + COLUMN_HELP)
def import_events(file: Path = FILE, fmt: str | None = FORMAT, chunk_size: int = CHUNK_OPT,
                  progress: bool = PROGRESS) -> None:
    """Import events from FILE."""
    _command("events", file, fmt, chunk_size, progress)
