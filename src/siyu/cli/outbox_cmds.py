"""``siyu outbox``: messages with their status and reason, the dispatcher, opt-outs, the messaging policy.

Bad input exits with status 2 and says what to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer

from siyu.cli.common import engine, settings
from siyu.cli.segment_cmds import Format, emit, writer
from siyu.domains.access import CLI
from siyu.domains.outbox import service
from siyu.worker.dispatch import DispatchLoop

app = typer.Typer(no_args_is_help=True, help="The outbox: messages, dispatcher, do-not-contact list, caps and quiet hours.")
MESSAGE_COLUMNS = ["id", "status", "reason", "channel", "category", "kind", "customer_id", "source", "attempts",
                   "send_after", "last_error"]


@app.command("list")
def list_(status: str | None = typer.Option(None), reason: str | None = typer.Option(None),
          customer: int | None = typer.Option(None, "--customer"), source: str | None = typer.Option(None),
          limit: int = typer.Option(50, min=1, max=1000), fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List the newest messages with their status and the reason they were not sent."""
    with writer() as s:
        rows = [{c: getattr(m, c) for c in MESSAGE_COLUMNS} for m in
                service.list_messages(s, status=status, reason=reason, customer_id=customer, source=source, limit=limit)]
    emit(rows, fmt, MESSAGE_COLUMNS)


@app.command("counts")
def counts() -> None:
    """Count messages by status, and held or failed ones by reason."""
    with writer() as s:
        by_status, by_reason = service.counts(s)
    for status in service.STATUSES:
        typer.echo(f"{status:<11}{by_status.get(status, 0):>10}")
    for (status, reason), n in sorted(by_reason.items()):
        typer.echo(f"  {status}/{reason}: {n}")


@app.command("dispatch")
def dispatch(once: bool = typer.Option(False, "--once", help="Send everything due now and exit."),
             share: float = typer.Option(1.0, min=0.01, max=1.0, help="This process's share of each channel's rate.")) -> None:
    """Run the dispatcher: send due messages through the channel adapters under the policy."""
    loop = DispatchLoop(engine(), settings(), share=share)
    if once:
        stats = loop.run_once()
        held = ", ".join(f"{k} {v}" for k, v in sorted(stats.held.items())) or "none"
        typer.echo(f"claimed {stats.claimed}: sent {stats.sent}, failed {stats.failed}, dead {stats.dead}; held: {held}")
        return
    typer.echo("dispatching the outbox; Ctrl-C stops")
    try:
        loop.run()
    except KeyboardInterrupt:
        loop.stop(timeout=0)


dnc = typer.Typer(no_args_is_help=True, help="The do-not-contact list and unsubscribes.")
app.add_typer(dnc, name="dnc")


@dnc.command("list")
def dnc_list(scope: str | None = typer.Option(None, help="all or marketing"),
             fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List do-not-contact entries (scope all) and unsubscribes (scope marketing)."""
    cols = ["id", "customer_id", "channel", "scope", "source", "note", "created_at"]
    with writer() as s:
        rows = [{c: getattr(e, c) for c in cols} for e in service.list_opt_outs(s, scope=scope)]
    emit(rows, fmt, cols)


@dnc.command("add")
def dnc_add(customer: int = typer.Argument(...), channel: str = typer.Option("*"),
            scope: str = typer.Option("all", help="all: no contact; marketing: unsubscribed"),
            note: str | None = typer.Option(None)) -> None:
    """Put a customer on the do-not-contact list for a channel (or all)."""
    with writer() as s:
        new = service.add_opt_out(s, customer_id=customer, channel=channel, scope=scope, source=f"operator:{CLI.actor}",
                                  note=note)
    typer.echo("added" if new else "already listed")


@dnc.command("remove")
def dnc_remove(entry: int = typer.Argument(...)) -> None:
    """Remove a do-not-contact entry or unsubscribe by its id."""
    with writer() as s:
        e = service.remove_opt_out(s, entry)
    typer.echo(f"removed {e.id}: customer {e.customer_id} {e.channel} {e.scope}")


policy = typer.Typer(no_args_is_help=True, help="Caps, quiet hours, the WeCom mass limit, retries and rates.")
app.add_typer(policy, name="policy")


@policy.command("show")
def policy_show() -> None:
    """Print the messaging policy as JSON."""
    with writer() as s:
        doc: dict[str, Any] = service.load_policy(s).model_dump(mode="json")
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


@policy.command("set")
def policy_set(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A JSON policy document.")) -> None:
    """Replace the messaging policy with a JSON document (fields left out take their defaults)."""
    try:
        doc = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        typer.echo(f"error: {file} is not JSON: {exc}", err=True)
        raise typer.Exit(2) from exc
    with writer() as s:
        service.save_policy(s, doc, actor=CLI.actor)
    typer.echo("policy saved")
