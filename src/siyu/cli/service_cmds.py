"""``siyu service``: auto-reply rules, the FAQ, staff SLA settings, "what would answer this", the SLA report."""

from __future__ import annotations

import json
from datetime import date, datetime

import typer

from siyu.cli.common import engine, session_scope, settings
from siyu.domains.access import CLI
from siyu.domains.service import daily_report, reset_watermark
from siyu.domains.service import service as svc
from siyu.kit.time import local_day, utcnow
from siyu.worker.service import ServiceWorker

app = typer.Typer(no_args_is_help=True, help="Auto-reply rules, FAQ, hand-off and the first-response SLA.")
rules = typer.Typer(no_args_is_help=True, help="Keyword rules (exact, contains, fuzzy, regex) and menus.")
faq = typer.Typer(no_args_is_help=True, help="The FAQ knowledge base.")
app.add_typer(rules, name="rules")
app.add_typer(faq, name="faq")
synonyms = typer.Typer(no_args_is_help=True, help="Synonym groups the FAQ treats as one word.")
app.add_typer(synonyms, name="synonyms")


@rules.command("list")
def rules_list() -> None:
    """List rules, highest priority first."""
    with session_scope() as session:
        for r in svc.list_rules(session):
            typer.echo("\t".join([str(r.id), str(r.priority), r.match_type, "on" if r.enabled else "off", r.name,
                                 " | ".join(r.patterns), r.reply.replace("\n", " ")]))


@rules.command("add")
def rules_add(
    name: str = typer.Argument(...),
    match_type: str = typer.Argument(..., help="exact | contains | fuzzy | regex"),
    reply: str = typer.Argument(...),
    pattern: list[str] = typer.Option(..., "--pattern", "-p", help="A pattern (repeat for several)."),
    priority: int = typer.Option(0, help="Higher wins."),
    threshold: int | None = typer.Option(None, help="Fuzzy only: rapidfuzz ratio 50-100 (default 80)."),
    option: list[str] = typer.Option([], "--option", help='Menu option "KEY=LABEL=REPLY" (repeat).'),
) -> None:
    """Add a rule (a regex is refused with its position if it does not compile or may backtrack badly)."""
    options = [dict(zip(("key", "label", "reply"), o.split("=", 2))) for o in option]
    with session_scope() as session:
        rule = svc.create_rule(session, name=name, match_type=match_type, patterns=pattern, reply=reply,
                               priority=priority, threshold=threshold, options=options, actor=CLI.actor)
        typer.echo(f"rule {rule.id} created")


@rules.command("delete")
def rules_delete(rule_id: int = typer.Argument(...)) -> None:
    """Delete a rule."""
    with session_scope() as session:
        svc.delete_rule(session, rule_id, actor=CLI.actor)
        typer.echo(f"rule {rule_id} deleted")


@app.command("test")
def test_text(text: str = typer.Argument(...),
              menu: int | None = typer.Option(None, help="Menu rule last shown.")) -> None:
    """Say what would answer TEXT now and why (nothing is sent)."""
    with session_scope() as session:
        d = svc.try_text(session, settings().data_dir, text, menu)
        typer.echo(json.dumps({"kind": d.kind, "reply": d.reply, "reason": d.reason, "rule_id": d.rule_id,
                               "faq_id": d.faq_id, "confidence": d.confidence, "candidates": d.candidates},
                              ensure_ascii=False, indent=2))


@faq.command("list")
def faq_list() -> None:
    """List FAQ entries."""
    with session_scope() as session:
        for f in svc.list_faqs(session):
            typer.echo("\t".join([str(f.id), "on" if f.enabled else "off", f.question, " | ".join(f.alternatives),
                                  f.answer.replace("\n", " ")]))


@faq.command("add")
def faq_add(
    question: str = typer.Argument(...),
    answer: str = typer.Argument(...),
    alt: list[str] = typer.Option([], "--alt", help="Another phrasing (repeat)."),
    keyword: list[str] = typer.Option([], "--keyword", help="A word for jieba's dictionary (repeat)."),
) -> None:
    """Add an FAQ entry."""
    with session_scope() as session:
        entry = svc.create_faq(session, question=question, answer=answer, alternatives=alt, keywords=keyword,
                               actor=CLI.actor)
        typer.echo(f"faq {entry.id} created")


@faq.command("ask")
def faq_ask(text: str = typer.Argument(...), limit: int = typer.Option(3, min=1, max=20)) -> None:
    """Rank the FAQ for TEXT with scores and confidence."""
    with session_scope() as session:
        found = svc.ask(session, settings().data_dir, text, limit)
        typer.echo(f"words: {' '.join(found.words)}; threshold {found.threshold}; "
                   f"{'answered' if found.answered else 'handed off'}")
        for h in found.hits:
            typer.echo(f"{h.faq.id}\t{h.confidence:.2f}\t{h.score:.2f}\t{h.faq.question}\t({h.phrasing})")


@synonyms.command("list")
def synonyms_list() -> None:
    """List synonym groups."""
    with session_scope() as session:
        for g in svc.list_synonyms(session):
            typer.echo(f"{g.id}\t{' / '.join(g.words)}")


@synonyms.command("add")
def synonyms_add(words: list[str] = typer.Argument(..., help="Two or more words, e.g. 退款 退钱 返款")) -> None:
    """Add a synonym group."""
    with session_scope() as session:
        group = svc.add_synonyms(session, words, actor=CLI.actor)
        typer.echo(f"synonyms {group.id} created")


@synonyms.command("delete")
def synonyms_delete(group_id: int = typer.Argument(...)) -> None:
    """Delete a synonym group."""
    with session_scope() as session:
        svc.delete_synonyms(session, group_id, actor=CLI.actor)
        typer.echo(f"synonyms {group_id} deleted")


@app.command("staff")
def staff_settings(
    userid: str = typer.Argument(...),
    sla_minutes: int | None = typer.Option(None, "--sla-minutes", min=1, max=10080),
    hours: str | None = typer.Option(None, "--hours", help='Working hours JSON: {"mon": [["09:00", "18:00"]]}'),
    supervisor: str | None = typer.Option(None, help='Supervisor userid ("" clears).'),
) -> None:
    """Set a staff member's SLA minutes, working hours or supervisor."""
    try:
        parsed = json.loads(hours) if hours is not None else None
    except json.JSONDecodeError as exc:
        typer.echo(f"error [invalid_working_hours]: --hours is not JSON: {exc}", err=True)
        raise typer.Exit(1) from exc
    with session_scope() as session:
        row = svc.set_staff_settings(session, userid, sla_minutes=sla_minutes, working_hours=parsed,
                                     supervisor=supervisor, actor=CLI.actor)
        typer.echo(f"{userid}: {row.sla_minutes} min, hours {json.dumps(row.working_hours)}, "
                   f"supervisor {row.supervisor_id or '-'}")


@app.command("sla")
def sla(day: datetime | None = typer.Option(None, formats=["%Y-%m-%d"], help="Brand day (default today)."),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the first-response SLA report of one brand day per staff member."""
    cfg = settings()
    which: date = day.date() if day else local_day(utcnow(), cfg.tz)
    with session_scope() as session:
        rows = daily_report(session, which, cfg.tz)
    if as_json:
        typer.echo(json.dumps({"day": which.isoformat(), "rows": [
            {"userid": r.userid, "conversations": r.conversations, "replied": r.replied,
             "replied_within": r.replied_within, "breaches": r.breaches,
             "median_first_response_seconds": r.median_first_response_seconds} for r in rows]}, ensure_ascii=False))
        return
    typer.echo("userid\tconversations\treplied\twithin_sla\tbreaches\tmedian_first_response_s")
    for r in rows:
        median = "-" if r.median_first_response_seconds is None else f"{r.median_first_response_seconds:.0f}"
        typer.echo(f"{r.userid}\t{r.conversations}\t{r.replied}\t{r.replied_within}\t{r.breaches}\t{median}")


@app.command("conversations")
def conversations(state: str | None = typer.Option(None), staff: str | None = typer.Option(None),
                  limit: int = typer.Option(50, min=1, max=200)) -> None:
    """List conversations by last activity."""
    with session_scope() as session:
        for c in svc.list_conversations(session, state=state, staff_userid=staff, limit=limit):
            typer.echo(f"{c.id}\t{c.customer_id}\t{c.staff_id or '-'}\t{c.state}\t{c.updated_at.isoformat()}")


@app.command("run")
def run(batch: int = typer.Option(1000, min=1, max=10000)) -> None:
    """Handle the pending customer messages and raise due SLA alerts once (what `siyu worker` does on a timer)."""
    turn = ServiceWorker(engine(), settings(), interval=0).run_once(batch=batch)
    if turn is None:
        typer.echo("another process is handling messages")
        return
    typer.echo(f"messages handled: {turn.events} ({turn.answered} answered, {turn.handed_off} handed off), "
               f"{turn.alerts} SLA breaches alerted")


@app.command("reprocess")
def reprocess(from_id: int = typer.Option(0, "--from", min=0, help="Events above this id are read again.")) -> None:
    """Move the watermark back so events are read again (already answered ones change nothing)."""
    with session_scope() as session:
        reset_watermark(session, from_id)
    typer.echo(f"watermark set to event {from_id}; `siyu service run` or the worker reads on from there")
