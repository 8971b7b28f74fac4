"""``siyu content`` and ``siyu mass``: the content library, previews, smart push, metrics and mass messages.

Bodies are given inline or as ``@file``. Output is JSON (one document) so scripts can read it; bad
input (an unknown item, a bad template with its line, an unknown segment) prints the error code and
message and exits with status 2.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from siyu.cli.common import engine, settings
from siyu.db.engine import unit_of_work
from siyu.domains import mass_messages
from siyu.domains.access import CLI
from siyu.domains.content import metrics
from siyu.domains.content import service as content
from siyu.domains.content.recommend import group_customer_ids, recommend
from siyu.domains.content.schemas import ItemIn, VariantIn
from siyu.domains.mass_messages.endpoints import out as mass_out
from siyu.domains.mass_messages.schemas import MassIn
from siyu.domains.segments import service as segments
from siyu.errors import SiyuError
from siyu.kit.crypto import PiiVault

app = typer.Typer(no_args_is_help=True, help="Content library: items, variants, previews, smart push, metrics.")
mass_app = typer.Typer(no_args_is_help=True, help="Mass messages (群发): create, preview, schedule, send, cancel.")


@contextmanager
def writer() -> Iterator[Session]:
    """Yield a writer session committed at the end; bad input exits with status 2."""
    try:
        with unit_of_work(engine()) as session:
            yield session
    except SiyuError as exc:
        typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        typer.echo(f"error [validation_error]: {'.'.join(map(str, first['loc']))}: {first['msg']}", err=True)
        raise typer.Exit(2) from exc


def emit(doc: Any) -> None:
    """Print ``doc`` as indented JSON."""
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2, default=str).decode())


def text_arg(raw: str | None) -> str | None:
    """Return ``raw``, or the file's text for ``@path``."""
    if raw is not None and raw.startswith("@"):
        return Path(raw[1:]).read_text(encoding="utf-8")
    return raw


def _item_doc(view: content.ItemView) -> dict[str, Any]:
    i = view.item
    return {"id": i.id, "kind": i.kind, "title": i.title, "body": i.body, "url": i.url, "topics": i.topics,
            "stages": i.stages, "status": i.status,
            "variants": [{"name": v.name, "weight": v.weight, "body": v.body} for v in view.variants]}


@app.command("list")
def list_cmd(kind: str | None = None, topic: str | None = None, status: str = "active") -> None:
    """List content items (JSON)."""
    with writer() as s:
        emit([_item_doc(v) for v in content.list_items(s, kind=kind, topic=topic, status=status or None)])


@app.command("add")
def add_cmd(kind: str = typer.Option(...), title: str = typer.Option(...), body: str = "", url: str | None = None,
            topic: list[str] = typer.Option([]), stage: list[str] = typer.Option([]),
            audience: list[str] = typer.Option([]), product: list[str] = typer.Option([])) -> None:
    """Add a content item (``--body @file.txt`` reads the template from a file)."""
    with writer() as s:
        data = ItemIn.model_validate({"kind": kind, "title": title, "body": text_arg(body) or "", "url": url,
                                      "topics": topic, "stages": stage, "audiences": audience, "products": product})
        emit(_item_doc(content.ItemView(content.create_item(s, data, actor=CLI.actor))))


@app.command("show")
def show_cmd(content_id: int) -> None:
    """Show one item with its variants."""
    with writer() as s:
        emit(_item_doc(content.item_view(s, content_id)))


@app.command("variant")
def variant_cmd(content_id: int, name: str = typer.Option(...), body: str = "", title: str | None = None,
                weight: int = 1) -> None:
    """Add an A/B variant to an item."""
    with writer() as s:
        v = content.add_variant(s, content_id, VariantIn(name=name, body=text_arg(body) or "", title=title,
                                                         weight=weight), actor=CLI.actor)
        emit({"id": v.id, "name": v.name, "weight": v.weight})


@app.command("render")
def render_cmd(content_id: int, customer: int | None = None, variant: str | None = None) -> None:
    """Print an item rendered for a customer (or with no customer's fields)."""
    with writer() as s:
        view = content.item_view(s, content_id)
        vault = PiiVault(settings().effective_secret_key)
        typer.echo(content.render_for(s, vault, view.item, content.named_variant(view, variant), customer))


@app.command("recommend")
def recommend_cmd(customer: int | None = None, group: int | None = None, collection: str | None = None,
                  seed: int | None = None, recent_days: int = 14) -> None:
    """Choose the item for a customer or a group and print every candidate's explanation."""
    if (customer is None) == (group is None):
        typer.echo("error [invalid_audience]: give exactly one of --customer and --group", err=True)
        raise typer.Exit(2)
    with writer() as s:
        ids = [customer] if customer is not None else group_customer_ids(s, group)  # type: ignore[list-item,arg-type]
        ref: int | str | None = int(collection) if collection and collection.isdigit() else collection
        choice = recommend(s, ids, collection=ref, recent_days=recent_days,
                           rng=random.Random(seed) if seed is not None else None)
        emit({"content_id": choice.content_id, "title": choice.title, "segment": choice.segment,
              "candidates": [{"content_id": c.content_id, "title": c.title, "excluded": c.excluded,
                              "parts": asdict(c.parts) if c.parts else None} for c in choice.candidates]})


@app.command("metrics")
def metrics_cmd(content_id: int, by: str = "variant", window_days: int = 7,
                segment: list[str] = typer.Option([])) -> None:
    """Print an item's sent, delivered, clicked and converted counts."""
    with writer() as s:
        content.get_item(s, content_id)
        members = {}
        for ref in segment:
            seg = segments.get_segment(s, int(ref) if ref.isdigit() else ref)
            members[seg.name] = set(segments.member_ids(s, seg.id, CLI))
        emit(metrics.item_metrics(s, content_id, window_days=window_days, by=by, segments=members).model_dump())


@mass_app.command("create")
def mass_create(name: str = typer.Option(...), content_id: int = typer.Option(..., "--content"),
                segment: str | None = None, group: list[int] = typer.Option([]), staff: list[int] = typer.Option([]),
                channel: str = "wecom", variant: str | None = None,
                send_at: datetime | None = typer.Option(None, formats=["%Y-%m-%dT%H:%M:%S%z"])) -> None:
    """Create a mass message (``--send-at 2026-11-25T10:00:00+0800`` schedules it)."""
    audience = {"segment": segment, "groups": group or None, "staff": staff or None}
    with writer() as s:
        data = MassIn(name=name, audience={k: v for k, v in audience.items() if v is not None},  # type: ignore[arg-type]
                      channel=channel, content_id=content_id, variant=variant, send_at=send_at)  # type: ignore[arg-type]
        emit(mass_out(mass_messages.create(s, data, actor=CLI.actor)).model_dump())


@mass_app.command("list")
def mass_list(status: str | None = None) -> None:
    """List mass messages newest first."""
    with writer() as s:
        emit([mass_out(r).model_dump() for r in mass_messages.list_messages(s, status=status)])


@mass_app.command("preview")
def mass_preview(mass_id: int) -> None:
    """Count the recipients now and those left after opt-outs, consent and caps."""
    with writer() as s:
        emit(mass_messages.preview(s, mass_id, settings().tz, CLI).model_dump())


@mass_app.command("schedule")
def mass_schedule(mass_id: int, at: datetime = typer.Option(..., formats=["%Y-%m-%dT%H:%M:%S%z"])) -> None:
    """Set or move the send time."""
    with writer() as s:
        emit(mass_out(mass_messages.schedule(s, mass_id, at, actor=CLI.actor)).model_dump())


@mass_app.command("send")
def mass_send(mass_id: int) -> None:
    """Enqueue a mass message for every recipient now."""
    with writer() as s:
        emit(mass_out(mass_messages.send(s, settings(), mass_id, actor=CLI.actor, principal=CLI)).model_dump())


@mass_app.command("cancel")
def mass_cancel(mass_id: int) -> None:
    """Cancel a draft or scheduled mass message."""
    with writer() as s:
        emit(mass_out(mass_messages.cancel(s, mass_id, actor=CLI.actor)).model_dump())


@mass_app.command("send-due")
def mass_send_due() -> None:
    """Send every scheduled mass message whose time has come (run it from cron or the worker)."""
    with writer() as s:
        emit({"sent": mass_messages.send_due(s, settings())})
