"""``siyu user`` and ``siyu apikey``: console users and API keys.

A new API key's token goes alone to stdout (so ``KEY=$(siyu apikey create …)`` works) and is never
shown again; everything else a command says goes to stderr or to its listing on stdout.
"""

from __future__ import annotations

import sys

import typer

from siyu.cli.common import session_scope
from siyu.domains.access import CLI
from siyu.domains.access import service as access
from siyu.domains.access.principal import ROLES, SCOPES
from siyu.domains.staff import service as staff

user_app = typer.Typer(no_args_is_help=True, help="Console users and their roles.")
apikey_app = typer.Typer(no_args_is_help=True, help="API keys for integrations.")


def register(app: typer.Typer) -> None:
    """Mount ``user`` and ``apikey`` on the root command."""
    app.add_typer(user_app, name="user")
    app.add_typer(apikey_app, name="apikey")


def _read_password(password: str | None, from_stdin: bool) -> str:
    if password is not None and from_stdin:
        typer.echo("error: give --password or --password-stdin, not both", err=True)
        raise typer.Exit(2)
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("create")
def create_user(
    username: str = typer.Argument(..., help="Login name (3-64 letters, digits or _.@-)."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
    staff_userid: str | None = typer.Option(None, "--staff", help="WeCom userid of the staff member (role staff)."),
    password: str | None = typer.Option(None, "--password", help="The password (visible to other local users; "
                                                                  "prefer the prompt or --password-stdin)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin's first line."),
    pii: bool | None = typer.Option(None, "--pii/--no-pii", help="May see unmasked PII (default: admins only)."),
) -> None:
    """Create a console user."""
    secret = _read_password(password, password_stdin)
    with session_scope() as session:
        staff_id = staff.staff_by_userid(session, staff_userid).id if staff_userid else None
        user = access.create_user(session, username, secret, role, staff_id=staff_id, can_read_pii=pii,
                                  actor=CLI.actor)
        typer.echo(f"user {user.id} {user.username} created (role {user.role}"
                   f"{', staff ' + staff_userid if staff_userid else ''}, pii {'yes' if user.can_read_pii else 'no'})")


@user_app.command("list")
def list_users() -> None:
    """List users: id, username, role, staff id, PII, active."""
    with session_scope() as session:
        for u in access.list_users(session):
            typer.echo("\t".join([str(u.id), u.username, u.role, str(u.staff_id or "-"),
                                  "pii" if u.can_read_pii else "masked", "active" if u.active else "inactive"]))


@apikey_app.command("create")
def create_key(
    scope: list[str] = typer.Option(..., "--scope", help=f"One of: {', '.join(SCOPES)} (repeat for several)."),
    name: str = typer.Option("cli", "--name", help="What the key is for."),
) -> None:
    """Create an API key and print its token once."""
    with session_scope() as session:
        key, token = access.create_api_key(session, name, scope, actor=CLI.actor)
        typer.echo(f"API key {key.id} ({name}, scopes {','.join(key.scopes)}) created; store the token now, "
                   "it is not shown again:", err=True)
        typer.echo(token)


@apikey_app.command("list")
def list_keys() -> None:
    """List API keys: id, name, prefix, scopes, created, revoked."""
    with session_scope() as session:
        for k in access.list_api_keys(session):
            revoked = k.revoked_at.isoformat() if k.revoked_at else "active"
            typer.echo("\t".join([str(k.id), k.name, k.prefix + "…", ",".join(k.scopes), k.created_at.isoformat(),
                                  revoked]))


@apikey_app.command("revoke")
def revoke_key(key_id: int = typer.Argument(..., help="Id from `siyu apikey list`.")) -> None:
    """Revoke an API key at once."""
    with session_scope() as session:
        key = access.revoke_api_key(session, key_id, actor=CLI.actor)
        typer.echo(f"API key {key.id} ({key.name}) revoked at {key.revoked_at.isoformat() if key.revoked_at else '?'}")
