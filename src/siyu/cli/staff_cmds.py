"""``siyu staff``: staff members, departure with inheritance, transfers."""

from __future__ import annotations

import typer

from siyu.cli.common import session_scope
from siyu.domains.access import CLI
from siyu.domains.staff import service

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
