"""``siyu import customers|orders|events FILE``: bulk loads through the same ingestion services as the API.

The file is streamed: rows are read lazily and handed on in chunks (2,000 by default), each chunk
one transaction through the ingestion services' two halves: ``prepare_*`` validates and normalises
(CPU only), ``write_*`` resolves identities and stores under the graph lock. So memory stays flat
however large the file, and every rule of the API (validation, idempotency, OneID, channel codes,
groups, ownership) applies unchanged. On a machine with more than one CPU, large files are read
and prepared by a second process a few chunks ahead while this one writes; chunks are written in
file order either way, so the result is the same. A row the services refuse, or that cannot even
be turned into an item (a broken JSON cell, a short CSV row), is written to ``FILE.rejects.csv``
with its line number, code and reason next to the original fields.

Exit codes: 0 when the import ran (rejected rows are counted and reported, not fatal); 2 when the
file cannot be read, its format is unknown or its header lacks required columns; 1 when a service
refuses a whole chunk.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tqdm import tqdm

from siyu.cli.common import engine as configured_engine
from siyu.cli.common import session_scope
from siyu.cli.common import settings as configured_settings
from siyu.cli.import_files import (LAYOUTS, ImportFileError, PreparedChunk, detect_format, open_source, open_text,
                                   prepared_chunks)
from siyu.config import Settings
from siyu.domains.ingest.customer_block import write_customer_block
from siyu.domains.ingest.event_block import write_events_block
from siyu.domains.ingest.schemas import IngestResult
from siyu.domains.ingest.service import IngestContext, Prepared, write_orders

__all__ = ["ImportFileError", "ImportSummary", "run_import"]

CHUNK = 2000
PARALLEL_MIN_BYTES = 1024 * 1024  # below this (~10k rows) a reader process is not worth starting
READ_AHEAD = 4  # prepared chunks waiting for the writer (bounds memory)
MEMO = 20_000  # normalised identities remembered while reading (~7 MB): repeat customers in one file

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



class RejectsWriter:
    """Writes refused rows to ``FILE.rejects.csv``, created on the first refusal."""

    def __init__(self, path: Path, header: list[str]):
        self.path, self.header = path, header
        self._handle: TextIO | None = None
        self._writer: Any = None
        if path.exists():
            path.unlink()  # a stale file from an earlier run would be misleading

    def write(self, line: int, raw: list[str], code: str, reason: str) -> None:
        """Append one refused row: its line number, why, and its original fields."""
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "code", "reason", *self.header])
        self._writer.writerow([line, code, reason, *raw])

    def close(self) -> None:
        """Close the file if one was written."""
        if self._handle is not None:
            self._handle.close()


Write = Callable[[Session, IngestContext, Prepared], IngestResult]
WRITE: dict[str, Write] = {"events": write_events_block, "orders": write_orders, "customers": write_customer_block}


def _note(summary: ImportSummary, code: str) -> None:
    summary.rejected += 1
    summary.codes[code] = summary.codes.get(code, 0) + 1


def _write_chunk(eng: Engine, ctx: IngestContext, write: Write, chunk: PreparedChunk, rejects: RejectsWriter,
                 summary: ImportSummary) -> None:
    refused = list(chunk.refused)
    if chunk.prepared is not None:
        with session_scope(eng) as session:
            result = write(session, ctx, chunk.prepared)
        summary.accepted += result.accepted
        summary.duplicates += result.duplicates
        refused.extend((chunk.good[rej.index], rej.code, rej.message) for rej in result.rejected)
    for pos, code, reason in sorted(refused):
        rejects.write(chunk.lines[pos], chunk.raws[pos], code, reason)
        _note(summary, code)
    summary.read += len(chunk.lines)
    summary.chunks += 1
    summary.max_chunk = max(summary.max_chunk, len(chunk.lines))


def _read_ahead(kind: str, path: Path, fmt: str, ctx: IngestContext, size: int, out: Any) -> None:
    """Reader process: prepare chunks into ``out``; end with ("done",) or ("error", code, message)."""
    try:
        with open_text(path) as handle:
            source = open_source(handle, kind, fmt)
            for chunk in prepared_chunks(ctx, kind, source, size, path.name):
                out.put(("chunk", chunk.slim()))
        out.put(("done",))
    except ImportFileError as exc:
        out.put(("error", exc.code, exc.message))
    except BaseException as exc:  # noqa: BLE001 - reported to the writer, which fails the import
        out.put(("error", "import_reader_failed", f"the reader process failed: {exc!r}"))


@contextmanager
def _reader_process(kind: str, path: Path, fmt: str, ctx: IngestContext, size: int) -> Iterator[Iterator[PreparedChunk]]:
    """Yield the prepared chunks of a reader process (forked: nothing is pickled but the chunks)."""
    mp = multiprocessing.get_context("fork")
    out = mp.Queue(maxsize=READ_AHEAD)
    proc = mp.Process(target=_read_ahead, args=(kind, path, fmt, ctx, size, out), daemon=True)
    proc.start()

    def chunks() -> Iterator[PreparedChunk]:
        while True:
            try:
                message = out.get(timeout=2.0)
            except queue.Empty:
                if proc.is_alive():
                    continue
                try:
                    message = out.get(timeout=2.0)
                except queue.Empty:
                    raise ImportFileError(f"the reader process exited with code {proc.exitcode}",
                                          code="import_reader_failed") from None
            if message[0] == "done":
                return
            if message[0] == "error":
                raise ImportFileError(message[2], code=message[1])
            yield message[1]

    try:
        yield chunks()
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join()
        out.close()


def _parallel(path: Path, parallel: bool | None) -> bool:
    """Decide whether a reader process prepares chunks ahead (None: decide from the file and the machine).

    The reader pays when a CPU is idle for it: on a quiet pair new steady-state events ran 1.35-1.5×
    as fast as in one process (the writer takes column blocks, docs/PERFORMANCE.md); with the CPUs
    busy the gain shrinks to the noise. A re-import of duplicates is bound by reading and preparing,
    and runs faster in one process.
    """
    if not hasattr(os, "fork"):
        return False
    if parallel is not None:
        return parallel
    cpus = os.cpu_count() or 1
    return cpus > 1 and path.stat().st_size >= PARALLEL_MIN_BYTES and os.getloadavg()[0] <= cpus - 1


def run_import(kind: str, path: Path, *, eng: Engine, settings: Settings, fmt: str | None = None,
               chunk_size: int = CHUNK, progress: bool = False, parallel: bool | None = None,
               write: Write | None = None) -> ImportSummary:
    """Import one file of ``kind`` in chunks of ``chunk_size`` rows, one transaction each; return the summary.

    ``parallel``: prepare chunks in a reader process (None: when the file is large and there is more
    than one CPU). ``write`` replaces the kind's write service (tests).
    """
    if kind not in LAYOUTS:
        raise ImportFileError(f"unknown import kind {kind!r}", code="unknown_kind")
    fmt = detect_format(path, fmt)
    ctx = IngestContext.from_settings(settings.model_copy(update={"max_batch": max(chunk_size, settings.max_batch)}),
                                      memo_limit=MEMO)
    summary = ImportSummary()
    started = time.perf_counter()
    with open_text(path) as handle:
        source = open_source(handle, kind, fmt)  # header errors surface here, before any write
        rejects = RejectsWriter(path.with_name(path.name + ".rejects.csv"), source.header)
        bar = tqdm(unit=" rows", disable=not progress, file=sys.stderr, mininterval=0.5, desc=f"import {kind}")
        try:
            if _parallel(path, parallel):
                with _reader_process(kind, path, fmt, ctx, chunk_size) as chunks:
                    _write_all(eng, ctx, write or WRITE[kind], chunks, rejects, summary, bar)
            else:
                chunks = prepared_chunks(ctx, kind, source, chunk_size, path.name)
                _write_all(eng, ctx, write or WRITE[kind], chunks, rejects, summary, bar)
        finally:
            bar.close()
            rejects.close()
    summary.seconds = time.perf_counter() - started
    summary.rejects_path = rejects.path if summary.rejected else None
    return summary


def _write_all(eng: Engine, ctx: IngestContext, write: Write, chunks: Iterator[PreparedChunk], rejects: RejectsWriter,
               summary: ImportSummary, bar: Any) -> None:
    for chunk in chunks:
        _write_chunk(eng, ctx, write, chunk, rejects, summary)
        bar.update(len(chunk.lines))


def _report(kind: str, path: Path, s: ImportSummary) -> None:
    typer.echo(f"{kind} from {path}: read {s.read:,} rows; accepted {s.accepted:,}, duplicates {s.duplicates:,}, "
               f"rejected {s.rejected:,}; {s.seconds:.1f} s, {s.rows_per_second:,.0f} rows/s")
    if s.rejected:
        top = ", ".join(f"{code} {n:,}" for code, n in sorted(s.codes.items(), key=lambda kv: -kv[1])[:5])
        typer.echo(f"{s.rejected:,} rejected rows ({top}) written to {s.rejects_path}")


def _command(kind: str, path: Path, fmt: str | None, chunk_size: int, progress: bool, parallel: bool | None) -> None:
    try:
        summary = run_import(kind, path, eng=configured_engine(), settings=configured_settings(), fmt=fmt,
                             chunk_size=chunk_size, progress=progress, parallel=parallel)
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
PARALLEL = typer.Option(None, "--reader-process/--no-reader-process", show_default=False,
                        help="Prepare chunks in a second process while this one writes (default: for files of "
                             "1 MB or more when a CPU is idle).")


@app.command("customers", help="Import customer records (identities, profile, owner)." + COLUMN_HELP)
def import_customers(file: Path = FILE, fmt: str | None = FORMAT, chunk_size: int = CHUNK_OPT,
                     progress: bool = PROGRESS, parallel: bool | None = PARALLEL) -> None:
    """Import customer records from FILE."""
    _command("customers", file, fmt, chunk_size, progress, parallel)


@app.command("orders", help="Import order facts (one row per state of an order)." + COLUMN_HELP)
def import_orders(file: Path = FILE, fmt: str | None = FORMAT, chunk_size: int = CHUNK_OPT,
                  progress: bool = PROGRESS, parallel: bool | None = PARALLEL) -> None:
    """Import order facts from FILE."""
    _command("orders", file, fmt, chunk_size, progress, parallel)


@app.command("events", help="Import behavioural events." + COLUMN_HELP)
def import_events(file: Path = FILE, fmt: str | None = FORMAT, chunk_size: int = CHUNK_OPT,
                  progress: bool = PROGRESS, parallel: bool | None = PARALLEL) -> None:
    """Import events from FILE."""
    _command("events", file, fmt, chunk_size, progress, parallel)