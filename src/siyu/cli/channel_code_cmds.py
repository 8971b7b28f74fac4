"""``siyu channel-code``: create, list and show channel codes (渠道活码)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from siyu.cli.common import session_scope, settings
from siyu.domains.access import CLI
from siyu.domains.channel_codes import service
from siyu.domains.channel_codes.service import CodeView, PoolEntry
from siyu.kit.qr import FORMATS, qr_image

app = typer.Typer(no_args_is_help=True, help="Channel codes: which staff member a scan reaches.")


def _pool_entry(raw: str) -> PoolEntry:
    """Parse USERID[:WEIGHT[:CAP]]."""
    parts = raw.split(":")
    try:
        weight = int(parts[1]) if len(parts) > 1 and parts[1] else 1
        cap = int(parts[2]) if len(parts) > 2 and parts[2] else None
    except ValueError as exc:
        raise typer.BadParameter(f"{raw!r}: use USERID[:WEIGHT[:CAP]] with whole numbers") from exc
    if len(parts) > 3:
        raise typer.BadParameter(f"{raw!r}: use USERID[:WEIGHT[:CAP]]")
    return PoolEntry(userid=parts[0], weight=weight, daily_cap=cap)


def _hours(raw: str | None) -> Any:
    """Parse the working-hours JSON (the service checks its shape)."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise typer.BadParameter('working hours must be JSON, e.g. \'{"mon": [["09:00", "18:00"]]}\'') from exc


def _describe(view: CodeView) -> list[str]:
    c = view.code
    pool = ", ".join(f"{m.staff.userid}(w{m.weight}{f', cap {m.daily_cap}' if m.daily_cap else ''})" for m in view.pool)
    return [f"code {c.id}: {c.name} [{'active' if c.active else 'inactive'}]", f"  state:    {c.state}",
            f"  platform: {c.platform}{f' / {c.channel}' if c.channel else ''}", f"  strategy: {c.strategy}",
            f"  pool:     {pool}", f"  backup:   {', '.join(b.userid for b in view.backups) or '-'}",
            f"  hours:    {json.dumps(c.working_hours, ensure_ascii=False) if c.working_hours else 'always'}",
            f"  tags:     {', '.join(c.tags) or '-'}", f"  welcome:  {c.welcome_template or '-'}",
            f"  QR link:  {service.landing_link(settings(), c)} -> {c.landing_url or '(not linked yet)'}"]


@app.command("create")
def create(
    name: str = typer.Option(..., help="What the code is for, e.g. 门店海报"),
    platform: str = typer.Option(..., help="douyin, xiaohongshu, store, poster, parcel, …"),
    pool: list[str] = typer.Option(..., "--pool", help="USERID[:WEIGHT[:CAP]] (repeatable, in order)"),
    strategy: str = typer.Option("fixed", help="fixed | round_robin | weighted | least_loaded"),
    state: str | None = typer.Option(None, help="WeCom state (<= 30 chars); generated when omitted"),
    channel: str | None = typer.Option(None, help="Free-text channel label"),
    backup: list[str] = typer.Option([], "--backup", help="backup userid (repeatable)"),
    tag: list[str] = typer.Option([], "--tag", help="tag applied to every customer (repeatable)"),
    welcome: str | None = typer.Option(None, help="welcome message template, e.g. '你好{customer_name}'"),
    hours: str | None = typer.Option(None, help='working hours JSON, e.g. \'{"mon": [["09:00", "18:00"]]}\''),
    landing_url: str | None = typer.Option(None, "--landing-url",
                                           help="where a scan of the printed QR goes (the WeCom 联系我 link)"),
) -> None:
    """Create a channel code."""
    entries = [_pool_entry(p) for p in pool]
    with session_scope() as session:
        view = service.create_code(session, name=name, platform=platform, strategy=strategy, pool=entries,
                                   state=state, channel=channel, working_hours=_hours(hours), backup=backup,
                                   tags=tag, welcome_template=welcome, landing_url=landing_url, actor=CLI.actor)
        typer.echo("\n".join(_describe(view)))


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="include inactive codes"),
    platform: str | None = typer.Option(None),
    limit: int = typer.Option(200),
) -> None:
    """List channel codes."""
    with session_scope() as session:
        page = service.list_codes(session, active=None if all_ else True, platform=platform, limit=limit)
        for v in page.items:
            c = v.code
            typer.echo("\t".join([str(c.id), c.state, c.platform, c.strategy, str(len(v.pool)), c.name]))


@app.command("show")
def show(
    code: str = typer.Argument(..., help="code id or state"),
    days: int = typer.Option(7, help="days of statistics to show"),
) -> None:
    """Show a channel code with its recent daily statistics."""
    with session_scope() as session:
        view = service.get_code(session, int(code)) if code.isdigit() else service.code_by_state(session, code)
        stats = service.code_stats(session, view.code.id, days, tz=settings().tz)
        typer.echo("\n".join(_describe(view)))
        typer.echo(f"  last {days} days: +{stats.added} / -{stats.lost}, following now: {stats.active}")
        for d in stats.days:
            typer.echo(f"    {d.day}  +{d.added}  -{d.lost}")


@app.command("qr")
def qr(
    code: str = typer.Argument(..., help="code id or state"),
    output: Path = typer.Option(..., "--output", "-o", help="file to write: .png or .svg"),
) -> None:
    """Write the code's printed QR (its landing link) as a PNG or SVG file."""
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        typer.echo(f"error: --output must end in .png or .svg, not {output.name!r}", err=True)
        raise typer.Exit(2)
    with session_scope() as session:
        view = service.get_code(session, int(code)) if code.isdigit() else service.code_by_state(session, code)
    link = service.landing_link(settings(), view.code)
    output.write_bytes(qr_image(link, fmt))
    typer.echo(f"wrote {output} ({link})")
