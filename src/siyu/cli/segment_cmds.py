"""``siyu segment``: define, preview, refresh and list segments and their members.

Rules are JSON (docs/segments.md) given inline or as ``@file.json``. Bad input (a bad rule, an
unknown segment) prints each problem with its JSON path and exits with status 2. Listings print a
table, JSON or CSV (``--format``).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import typer
from sqlalchemy.orm import Session

from siyu.cli.common import engine, settings
from siyu.db.engine import unit_of_work
from siyu.domains.access import CLI
from siyu.domains.segments import refresh, service
from siyu.domains.segments.models import Segment
from siyu.errors import SiyuError, ValidationFailed

app = typer.Typer(no_args_is_help=True, help="Segments: customers selected by a rule, kept current, with history.")


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def fail(exc: SiyuError) -> typer.Exit:
    """Print an error (every rule problem with its path) and return exit status 2 (bad input)."""
    typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
    for problem in exc.details.get("errors", [])[1:] if isinstance(exc.details.get("errors"), list) else []:
        typer.echo(f"  {problem['path']}: {problem['message']} [{problem['code']}]", err=True)
    return typer.Exit(2)


@contextmanager
def writer() -> Iterator[Session]:
    """Yield a writer session committed at the end; a SiyuError exits with status 2."""
    try:
        with unit_of_work(engine()) as session:
            yield session
    except SiyuError as exc:
        raise fail(exc) from exc


def rule_arg(raw: str) -> Any:
    """Return the JSON of ``raw`` (inline, or ``@path``); bad JSON exits 2 saying where."""
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise fail(ValidationFailed(f"cannot read {raw[1:]}: {exc.strerror or exc}", code="invalid_rule")) from exc
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise fail(ValidationFailed(f"the rule is not JSON: {exc}", code="invalid_rule")) from exc


def emit(rows: Sequence[dict[str, Any]], fmt: Format, columns: Sequence[str]) -> None:
    """Print rows as an aligned table, JSON (a list of objects) or CSV."""
    if fmt is Format.json:
        typer.echo(orjson.dumps(list(rows), option=orjson.OPT_INDENT_2, default=str).decode())
        return
    if fmt is Format.csv:
        out = csv.writer(sys.stdout)
        out.writerow(columns)
        out.writerows([["" if r.get(c) is None else r[c] for c in columns] for r in rows])
        return
    cells = [list(columns)] + [["-" if r.get(c) is None else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _row(s: Segment) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "members": s.members, "refreshed_at": s.refreshed_at,
            "touched_at": s.touched_at, "description": s.description}


@app.command("create")
def create(name: str = typer.Option(..., help="Unique name, e.g. 近30天活跃女性"),
           rule: str = typer.Option(..., help="The rule as JSON, or @file.json (docs/segments.md)"),
           description: str = typer.Option("", help="What the segment is for")) -> None:
    """Create a segment and evaluate it now."""
    body = rule_arg(rule)
    with writer() as s:
        segment = service.create_segment(s, name=name, rule=body, description=description, actor=CLI.actor,
                                         tz=settings().tz)
        typer.echo(f"segment {segment.id} {segment.name}: {segment.members} customers")


@app.command("update")
def update(segment: str = typer.Argument(..., help="Id or name"), name: str | None = typer.Option(None),
           rule: str | None = typer.Option(None, help="A new rule (JSON or @file.json); evaluated at once"),
           description: str | None = typer.Option(None)) -> None:
    """Rename a segment, describe it or change its rule."""
    body = rule_arg(rule) if rule is not None else None
    with writer() as s:
        found = service.get_segment(s, segment)
        changed = service.update_segment(s, found.id, actor=CLI.actor, tz=settings().tz, name=name, rule=body,
                                         description=description)
        typer.echo(f"segment {changed.id} {changed.name}: {changed.members} customers")


@app.command("list")
def list_(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List segments with their size and freshness."""
    with writer() as s:
        emit([_row(x) for x in service.list_segments(s)], fmt,
             ["id", "name", "members", "refreshed_at", "touched_at", "description"])


@app.command("show")
def show(segment: str = typer.Argument(..., help="Id or name"), fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Show a segment's rule, size and freshness."""
    with writer() as s:
        found = service.get_segment(s, segment)
        row = {**_row(found), "rule": found.rule}
        if fmt is Format.table:
            for key, value in row.items():
                typer.echo(f"{key:>13}: {orjson.dumps(value).decode() if key == 'rule' else value}")
        else:
            emit([row], fmt, list(row))


@app.command("preview")
def preview(rule: str = typer.Option(..., help="The rule as JSON, or @file.json"),
            sample: int = typer.Option(10, min=0, max=100), fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Count the customers a rule selects now and list the newest few (nothing is stored)."""
    body = rule_arg(rule)
    with writer() as s:
        result = service.preview(s, body, CLI, settings().tz, sample=sample)
        rows = [{"id": c.id, "name": c.name_masked, "gender": c.gender, "city": c.city, "first_seen_at": c.first_seen_at}
                for c in result.sample]
        if fmt is Format.json:
            typer.echo(orjson.dumps({"count": result.count, "ms": result.ms, "sample": rows}, default=str,
                                    option=orjson.OPT_INDENT_2).decode())
            return
        if fmt is Format.table:
            typer.echo(f"{result.count} customers ({result.ms} ms)")
        emit(rows, fmt, ["id", "name", "gender", "city", "first_seen_at"])


@app.command("refresh")
def refresh_command(segment: str | None = typer.Argument(None, help="Id or name; none: every segment and rule tag"),
                    full: bool = typer.Option(False, "--full", help="Every customer, not only those whose facts arrived")) -> None:
    """Bring segments up to date: incrementally (customers whose facts arrived) or in full."""
    tz = settings().tz
    with writer() as s:
        if segment is not None:
            entered, exited = service.refresh_segment(s, service.get_segment(s, segment).id, tz)
            typer.echo(f"{entered} entered, {exited} exited")
            return
        outcome = refresh.refresh_full(s, tz) if full else refresh.refresh_incremental(s, tz)
        if outcome is None:
            typer.echo("nothing new since the last refresh")
            return
        scope = "every customer" if outcome.full else f"{outcome.customers} customers"
        typer.echo(f"{scope} in {outcome.seconds:.2f} s: {sum(outcome.entered.values())} entered, "
                   f"{sum(outcome.exited.values())} exited")


@app.command("members")
def members(segment: str = typer.Argument(..., help="Id or name"),
            limit: int = typer.Option(50, min=1, help="How many (newest customers first); csv/json: all with --all"),
            all_: bool = typer.Option(False, "--all", help="Every member"),
            fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List a segment's current members with when they entered."""
    with writer() as s:
        found = service.get_segment(s, segment)
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = service.members(s, found.id, CLI, cursor=cursor, limit=min(200, limit) if not all_ else 200)
            rows += [{"id": c.id, "name": c.name_masked, "city": c.city, "entered_at": at} for c, at in page.items]
            cursor = page.next_cursor
            if cursor is None or (not all_ and len(rows) >= limit):
                break
        emit(rows if all_ else rows[:limit], fmt, ["id", "name", "city", "entered_at"])


@app.command("history")
def history(segment: str = typer.Argument(..., help="Id or name"), customer: int | None = typer.Option(None),
            limit: int = typer.Option(50, min=1, max=200), fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List stays in a segment (entered, exited), newest first."""
    with writer() as s:
        found = service.get_segment(s, segment)
        rows = [{"customer_id": m.customer_id, "entered_at": m.entered_at, "exited_at": m.exited_at}
                for m in service.history(s, found.id, CLI, customer_id=customer, limit=limit)]
        emit(rows, fmt, ["customer_id", "entered_at", "exited_at"])
