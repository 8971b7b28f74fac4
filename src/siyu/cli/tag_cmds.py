"""``siyu tag``: tags and tag groups, rule tags, applying tags to customers or a whole segment, interests.

Bad input exits with status 2 and says what to fix (a bad rule: every problem with its JSON path).
"""

from __future__ import annotations

from typing import Any

import orjson
import typer

from siyu.analytics import interest
from siyu.cli.common import settings
from siyu.cli.segment_cmds import Format, emit, rule_arg, writer
from siyu.domains.access import CLI
from siyu.domains.segments import service as segments
from siyu.domains.tags import service

app = typer.Typer(no_args_is_help=True, help="Tags: groups, manual, rule and interest tags, with history.")


@app.command("list")
def list_(kind: str | None = typer.Option(None, help="manual, channel, rule or interest"),
          fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List tags by group with how many customers hold each now."""
    with writer() as s:
        rows: list[dict[str, Any]] = [
            {"id": v.tag.id, "name": v.tag.name, "group": v.tag.group_name, "kind": v.tag.kind, "holders": v.holders,
             "rule": orjson.dumps(v.rule.rule).decode() if v.rule else None} for v in service.describe_tags(s, kind=kind)]
        emit(rows, fmt, ["id", "name", "group", "kind", "holders", "rule"])


@app.command("create")
def create(name: str = typer.Argument(...), group: str = typer.Option("默认")) -> None:
    """Create a manual tag in a group."""
    with writer() as s:
        tag = service.create_tag(s, name, group_name=group, actor=CLI.actor)
        typer.echo(f"tag {tag.id} {tag.name} in {tag.group_name}")


@app.command("rule")
def rule_tag(name: str = typer.Argument(...), rule: str = typer.Option(..., help="JSON or @file.json (docs/segments.md)"),
             group: str = typer.Option("规则标签")) -> None:
    """Create a rule tag (held while its condition holds), or replace the rule of an existing one."""
    body = rule_arg(rule)
    tz = settings().tz
    with writer() as s:
        exists = any(t.name == name.strip() for t in service.list_tags(s))
        tag = segments.update_rule_tag(s, name, body, actor=CLI.actor, tz=tz) if exists else \
            segments.create_rule_tag(s, name=name, rule=body, group=group, actor=CLI.actor, tz=tz)
        holders = service.holder_counts(s).get(tag.id, 0)
        typer.echo(f"rule tag {tag.id} {tag.name}: {holders} customers")


@app.command("move")
def move(name: str = typer.Argument(...), group: str = typer.Option(...)) -> None:
    """Put a tag in another group."""
    with writer() as s:
        tag = service.move_tag(s, name, group, actor=CLI.actor)
        typer.echo(f"tag {tag.name} now in {tag.group_name}")


@app.command("groups")
def groups(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List tag groups."""
    with writer() as s:
        emit([{"name": g.name, "exclusive": g.exclusive, "tags": g.tags} for g in service.list_groups(s)], fmt,
             ["name", "exclusive", "tags"])


@app.command("group-create")
def group_create(name: str = typer.Argument(...),
                 exclusive: bool = typer.Option(False, "--exclusive", help="A customer holds at most one of its tags")) -> None:
    """Create a tag group."""
    with writer() as s:
        g = service.create_group(s, name, exclusive=exclusive, actor=CLI.actor)
        typer.echo(f"group {g.name}{' (exclusive)' if g.exclusive else ''}")


@app.command("group-rename")
def group_rename(old: str = typer.Argument(...), new: str = typer.Argument(...)) -> None:
    """Rename a tag group (its tags follow)."""
    with writer() as s:
        service.rename_group(s, old, new, actor=CLI.actor)
        typer.echo(f"group {old} renamed {new}")


@app.command("apply")
def apply(name: str = typer.Argument(...), customer: list[int] = typer.Option([], "--customer"),
          segment: str | None = typer.Option(None, "--segment", help="Every current member of this segment")) -> None:
    """Put a manual tag on customers, or on a whole segment at once (audited)."""
    if not customer and segment is None:
        typer.echo("error: give --customer ID (repeatable) or --segment ID", err=True)
        raise typer.Exit(2)
    with writer() as s:
        added = service.apply_to_customers(s, name, customer, actor=CLI.actor) if customer else 0
        if segment is not None:
            added += segments.tag_segment(s, segments.get_segment(s, segment).id, name, CLI)
        typer.echo(f"{added} customers newly tagged {name}")


@app.command("remove")
def remove(name: str = typer.Argument(...), customer: list[int] = typer.Option(..., "--customer")) -> None:
    """Take a tag off customers (audited)."""
    with writer() as s:
        typer.echo(f"{service.remove_from_customers(s, name, customer, actor=CLI.actor)} holds ended")


@app.command("history")
def history(name: str = typer.Argument(...), customer: int | None = typer.Option(None),
            limit: int = typer.Option(50, min=1, max=1000), fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List holds of a tag: who gained it when, and when they lost it."""
    with writer() as s:
        rows = [{"customer_id": h.customer_id, "source": h.source, "added_at": h.added_at, "removed_at": h.removed_at}
                for h in service.tag_history(s, name, customer_id=customer, limit=limit)]
        emit(rows, fmt, ["customer_id", "source", "added_at", "removed_at"])


@app.command("interests")
def interests(customer: int | None = typer.Option(None, help="Show this customer's scores instead of refreshing"),
              half_life: float | None = typer.Option(None, "--half-life", help="Days (default SIYU_INTEREST_HALF_LIFE_DAYS)"),
              top: int | None = typer.Option(None, help="Interests per customer (default SIYU_INTEREST_TOP)"),
              fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """Recompute every customer's content interests and interest tags, or show one customer's scores."""
    conf = settings()
    with writer() as s:
        if customer is not None:
            rows = [{"topic": r.topic, "score": round(r.score, 4), "computed_at": r.computed_at}
                    for r in service.interest_scores(s, [customer])]
            emit(rows, fmt, ["topic", "score", "computed_at"])
            return
        params = interest.InterestParams(half_life_days=half_life or conf.interest_half_life_days,
                                         top=top or conf.interest_top)
        outcome = interest.refresh(s, conf.tz, params)
        typer.echo(f"{outcome.customers} customers scored, {outcome.tagged} with interest tags ({outcome.seconds:.2f} s)")
