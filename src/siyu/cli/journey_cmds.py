"""``siyu journey``: define, validate, publish, pause, enrol, count and trace journeys (docs/journeys.md).

Definitions are JSON given inline or as ``@file.json``. A bad definition prints every problem with
its path and step and exits with status 2. ``siyu journey tick`` runs the scheduler once (what
``siyu worker`` does every second).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import typer
from sqlalchemy.orm import Session

from siyu.cli.common import engine, settings
from siyu.cli.segment_cmds import Format, emit
from siyu.db.engine import unit_of_work
from siyu.domains.access import CLI
from siyu.domains.journeys import service
from siyu.domains.journeys.templates import TEMPLATES, template
from siyu.errors import SiyuError, ValidationFailed
from siyu.worker.journeys import JourneyScheduler

app = typer.Typer(no_args_is_help=True, help="Journeys (SOP): timed, conditional sequences per customer.")


def fail(exc: SiyuError) -> typer.Exit:
    """Print an error with every problem (path, step, code) and return exit status 2."""
    typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
    problems = exc.details.get("errors")
    for p in problems if isinstance(problems, list) and len(problems) > 1 else []:
        step = f" (step {p['step']})" if p.get("step") else ""
        typer.echo(f"  {p['path']}{step}: {p['message']} [{p['code']}]", err=True)
    return typer.Exit(2)


@contextmanager
def session(write: bool = True) -> Iterator[Session]:
    """Yield a session committed at the end; a SiyuError exits with status 2."""
    try:
        with unit_of_work(engine(), write=write) as s:
            yield s
    except SiyuError as exc:
        raise fail(exc) from exc


def definition_arg(raw: str) -> Any:
    """Return the JSON of ``raw`` (inline, or ``@path``); bad JSON exits 2."""
    try:
        text = Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
        return orjson.loads(text)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise fail(ValidationFailed(f"cannot read the definition: {exc}", code="invalid_journey")) from exc


def _ref(raw: str) -> int | str:
    return int(raw) if raw.isdigit() else raw


@app.command("list")
def list_journeys(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List journeys with their status, trigger, version and running enrolments."""
    with session(write=False) as s:
        rows = [{"id": j.id, "name": j.name, "status": j.status, "trigger": j.trigger_type,
                 "version": j.current_version, "active": service.active_enrolments(s, j.id)}
                for j in service.list_journeys(s)]
    emit(rows, fmt, ["id", "name", "status", "trigger", "version", "active"])


@app.command("templates")
def templates(show: str = typer.Option("", "--show", help="Print one template's definition as JSON.")) -> None:
    """List the ready templates (or print one)."""
    if show:
        if show not in TEMPLATES:
            raise fail(ValidationFailed(f"no template {show!r}", code="unknown_template"))
        typer.echo(orjson.dumps(template(show), option=orjson.OPT_INDENT_2).decode())
        return
    emit([{"name": n, "description": t["description"]} for n, t in TEMPLATES.items()], Format.table,
         ["name", "description"])


@app.command("validate")
def validate(definition: str = typer.Argument(..., help="JSON, or @file.json")) -> None:
    """Check a definition without saving it."""
    with session(write=False) as s:
        spec = service.validate(s, definition_arg(definition))
    typer.echo(f"valid: {len(spec.steps)} steps, trigger {spec.trigger.type}")


@app.command("create")
def create(name: str, definition: str = typer.Option("", "--definition", help="JSON, or @file.json"),
           from_template: str = typer.Option("", "--template", help="Start from a template."),
           publish: bool = typer.Option(False, "--publish", help="Publish at once.")) -> None:
    """Create a draft journey from a definition or a template."""
    if bool(definition) == bool(from_template):
        raise fail(ValidationFailed("give either --definition or --template", code="invalid_journey"))
    if from_template and from_template not in TEMPLATES:
        raise fail(ValidationFailed(f"no template {from_template!r}", code="unknown_template"))
    raw = definition_arg(definition) if definition else template(from_template)
    with session() as s:
        journey = service.create_journey(s, name=name, definition=raw, actor=CLI.actor)
        if publish:
            service.publish(s, journey.id, actor=CLI.actor)
        typer.echo(f"journey {journey.id} {journey.name!r} created ({journey.status})")


@app.command("edit")
def edit(ref: str, definition: str = typer.Argument(..., help="JSON, or @file.json")) -> None:
    """Replace a journey's definition (a new version once it has run)."""
    with session() as s:
        row = service.update_definition(s, _ref(ref), definition_arg(definition), actor=CLI.actor)
        typer.echo(f"version {row.version}")


@app.command("publish")
def publish(ref: str) -> None:
    """Start or resume a journey."""
    with session() as s:
        typer.echo(f"journey {service.publish(s, _ref(ref), actor=CLI.actor).name!r} is active")


@app.command("pause")
def pause(ref: str) -> None:
    """Pause a journey."""
    with session() as s:
        typer.echo(f"journey {service.pause(s, _ref(ref), actor=CLI.actor).name!r} is paused")


@app.command("migrate")
def migrate(ref: str, from_version: int = typer.Option(..., "--from")) -> None:
    """Move an older version's running enrolments to the current version."""
    with session() as s:
        typer.echo(f"{service.migrate(s, _ref(ref), from_version, actor=CLI.actor)} enrolments moved")


@app.command("enrol")
def enrol(ref: str, customer_ids: list[int] = typer.Argument(...)) -> None:
    """Enrol customers by hand."""
    with session() as s:
        typer.echo(f"{service.enrol_customers(s, _ref(ref), customer_ids, actor=CLI.actor)} entered")


@app.command("counts")
def counts(ref: str, version: int = typer.Option(0, "--version"),
           fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Print per-step counts (entered, waiting, done, failed, exited) and the goal conversion."""
    with session(write=False) as s:
        rows = [c.__dict__ for c in service.step_counts(s, _ref(ref), version or None)]
        conv = service.conversion(s, _ref(ref))
    emit(rows, fmt, ["step", "type", "entered", "waiting", "done", "failed", "exited"])
    if fmt is Format.table and conv.goal:
        (s1, n1), (s2, n2) = conv.treatment, conv.holdout
        lift = f"[{conv.lift_ci.low:+.3f}, {conv.lift_ci.high:+.3f}]" if conv.lift_ci else "n/a"
        typer.echo(f"goal {conv.goal}: treatment {s1}/{n1}, holdout {s2}/{n2}, difference 95% CI {lift}")


@app.command("trace")
def trace(customer_id: int, journey: str = typer.Option("", "--journey")) -> None:
    """Explain a customer's journeys: each step visited, when, and why."""
    with session(write=False) as s:
        items = service.trace(s, customer_id, journey=_ref(journey) if journey else None)
    for e in items:
        typer.echo(f"journey {e['journey_id']} v{e['version']} [{e['status']}, {e['arm']}] entered "
                   f"{e['entered_at']:%Y-%m-%d %H:%M} by {e['source']}")
        for step in e["steps"]:
            typer.echo(f"  {step['at']:%Y-%m-%d %H:%M} {step['step']} ({step['type']}): {step['why']}")
        if e["status"] == "active":
            typer.echo(f"  now at {e['step']}, next look {e['next_run_at']}")


@app.command("tick")
def tick() -> None:
    """Run the scheduler once: feed triggers and run every due step."""
    done = JourneyScheduler(engine(), settings()).run_once()
    typer.echo(f"{done.enrolled} enrolled, {done.steps} steps run, {done.exited} exited")
