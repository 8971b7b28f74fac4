"""``siyu staff``: staff members, departure with inheritance, transfers, WeCom contact statistics."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from pydantic import ValidationError

from siyu.cli.common import session_scope, settings
from siyu.domains.access import CLI
from siyu.domains.staff import behavior, service
from siyu.domains.staff.schemas import BehaviorIn

app = typer.Typer(no_args_is_help=True, help="Staff members and who follows whom.")


@app.command("create")
def create(
    userid: str = typer.Argument(..., help="WeCom userid"),
    name: str = typer.Argument(...),
    department: str | None = typer.Option(None, help="Department."),
    store: str | None = typer.Option(None, help="Store the staff member works in."),
) -> None:
    """Create a staff member."""
    with session_scope() as session:
        staff = service.create_staff(session, userid, name, department=department, store=store, actor=CLI.actor)
        typer.echo(f"staff {staff.id} {staff.userid} ({staff.name}) created")


@app.command("list")
def list_(
    status: str | None = typer.Option(None, help="active | departed"),
    store: str | None = typer.Option(None),
    limit: int = typer.Option(200, help="At most this many rows."),
) -> None:
    """List staff members."""
    with session_scope() as session:
        page = service.list_staff(session, status=status, store=store, limit=limit)
        for s in page.items:
            typer.echo("\t".join([str(s.id), s.userid, s.name, s.department or "-", s.store or "-", s.status]))
        if page.next_cursor:
            typer.echo(f"… more after id {page.next_cursor}", err=True)


@app.command("depart")
def depart(
    userid: str = typer.Argument(..., help="WeCom userid of the leaver"),
    inherit_to: str | None = typer.Option(None, "--inherit-to", help="userid who inherits every customer"),
) -> None:
    """Mark a staff member departed, optionally handing all their customers to a colleague."""
    with session_scope() as session:
        leaver = service.staff_by_userid(session, userid)
        heir = service.staff_by_userid(session, inherit_to).id if inherit_to else None
        result = service.depart_staff(session, leaver.id, inherit_to=heir, actor=CLI.actor)
        typer.echo(f"{userid} departed")
        if result.transfer is not None:
            typer.echo(f"{result.transfer.customers} relation(s) inherited by {inherit_to} (transfer "
                       f"{result.transfer.id})")


@app.command("transfer")
def transfer(
    from_userid: str = typer.Argument(..., help="userid who hands customers over"),
    to_userid: str = typer.Argument(..., help="userid who takes them"),
    identity: list[int] = typer.Option([], "--identity", help="identity id to move (repeatable)"),
    all_: bool = typer.Option(False, "--all", help="move every customer"),
) -> None:
    """Move chosen customers (--identity …) or all of them (--all) to another staff member."""
    if bool(identity) == all_:
        typer.echo("error: give --identity (one or more) or --all", err=True)
        raise typer.Exit(2)
    with session_scope() as session:
        source = service.staff_by_userid(session, from_userid)
        target = service.staff_by_userid(session, to_userid)
        moved = service.transfer_customers(session, source.id, target.id, None if all_ else identity, actor=CLI.actor)
        typer.echo(f"transfer {moved.id}: {moved.customers} relation(s) {from_userid} → {to_userid} ({moved.reason})")


def _behavior_bodies(path: Path) -> list[BehaviorIn]:
    """Read WeCom statistics answers (one JSON object, or JSON Lines of them); exit 2 naming what is wrong."""
    text = path.read_text(encoding="utf-8")
    try:
        parsed = json.loads(text)
        raw = [parsed] if isinstance(parsed, dict) else parsed
    except json.JSONDecodeError:
        try:
            raw = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            typer.echo(f"error: {path}: line {exc.lineno}: not JSON ({exc.msg}); give one JSON object or JSON Lines",
                       err=True)
            raise typer.Exit(2) from exc
    bodies = []
    for number, item in enumerate(raw, start=1):
        try:
            bodies.append(BehaviorIn.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            typer.echo(f"error: {path}: answer {number}: {where}: {first['msg']}", err=True)
            raise typer.Exit(2) from exc
        if item.get("errcode"):
            typer.echo(f"error: {path}: answer {number}: WeCom answered errcode {item['errcode']}; "
                       "give the statistics of a successful call", err=True)
            raise typer.Exit(2)
    return bodies


@app.command("behavior")
def record_behavior(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="WeCom get_user_behavior_data answers with the member's userid added: "
                                     "one JSON object, or JSON Lines with one per staff member"),
) -> None:
    """Store staff members' WeCom contact statistics per day (a day given again replaces the stored one)."""
    bodies = _behavior_bodies(file)
    with session_scope() as session:
        tz = settings().tz
        for body in bodies:
            days = [behavior.BehaviorDay(**d.model_dump()) for d in body.behavior_data]
            done = behavior.record_behavior(session, body.userid, days, tz)
            typer.echo(f"{done.userid}: {done.days} day(s) stored, {done.replaced} replaced")


@app.command("response")
def response(
    userid: str = typer.Argument(..., help="WeCom userid"),
    first: datetime = typer.Option(..., "--from", formats=["%Y-%m-%d"], help="First brand day, YYYY-MM-DD"),
    last: datetime = typer.Option(..., "--to", formats=["%Y-%m-%d"], help="Last brand day, YYYY-MM-DD"),
) -> None:
    """Show a staff member's chats, reply rate and average first-reply time over brand days [--from, --to]."""
    if last < first:
        typer.echo("error: --to is before --from", err=True)
        raise typer.Exit(2)
    with session_scope() as session:
        member = service.staff_by_userid(session, userid)
        found = behavior.response_between(session, [member.id], first.date(), last.date()).get(member.id)
    if found is None:
        typer.echo(f"{userid}: no statistics between {first.date()} and {last.date()}")
        return
    rate = "-" if found.reply_rate is None else f"{found.reply_rate}%"
    minutes = "-" if found.avg_reply_minutes is None else f"{found.avg_reply_minutes} min"
    typer.echo(f"{userid}: {found.chats} chat(s), reply rate {rate}, average first reply {minutes}")
