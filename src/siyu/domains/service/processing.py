"""Answer newly ingested private messages and keep first-response clocks, reading events by watermark.

``process_new`` reads ``message_received`` and ``message_sent`` events above the ``service_cursor``
watermark in id order, in the caller's transaction, and moves the watermark with them, so a batch is
handled exactly once when it commits; replaying events anyway (a reset watermark) changes nothing,
because replies are enqueued with the key ``service-reply:<event_id>``, hand-off tasks with
``service-handoff:<event_id>``, clocks are unique per inbound event and a conversation ignores events
older than the last it saw.

- An unsubscribe keyword (退订, TD, unsubscribe) goes to the outbox's ``handle_inbound_text``, which
  records the opt-out; it is neither answered nor handed off.
- An inbound message from a group (``roomid``, ``group_id`` or ``chat_type`` = group) is skipped: the
  rules answer private chats. The staff member is the event's ``staff_userid`` if known, else the
  customer's earliest current follower.
- Answered by a menu option, a rule or an FAQ: the reply goes to the outbox (transactional, WeCom),
  the conversation is ``bot_answered`` and no clock starts. Otherwise the conversation is
  ``handed_off``, the staff member gets a task and a first-response clock starts (one open clock per
  customer and staff member: later messages before a reply do not restart it). Its deadline is
  ``sla_minutes`` of the staff member's working time after the message.
- ``message_sent`` by a staff member (not marked ``auto_reply``) stops that customer's open clocks
  with that staff member and marks the conversation ``staff_replied``.
- ``alert_breaches`` gives the staff member and their supervisor a task for every clock past its
  deadline, once per clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.domains import staff as staff_domain
from siyu.domains.events import Event
from siyu.domains.outbox import NewMessage, enqueue, handle_inbound_text
from siyu.domains.service import hours as work_hours
from siyu.domains.service import repository as repo
from siyu.domains.service.models import Conversation, ResponseClock, ServiceCursor
from siyu.domains.service.service import DEFAULT_SLA_MINUTES, Responder, responder
from siyu.domains.tasks import NewTask, create_tasks
from siyu.kit.time import utcnow

CURSOR = "messages"
BATCH = 1000


@dataclass(slots=True)
class Outcome:
    """What one pass did."""

    events: int = 0
    answered: int = 0
    handed_off: int = 0
    unsubscribed: int = 0
    clocks_started: int = 0
    clocks_stopped: int = 0
    last_event_id: int = 0


@dataclass(slots=True)
class _Context:
    session: Session
    responder: Responder
    tz: ZoneInfo
    staff_ids: dict[str, int]
    outcome: Outcome
    replies: list[NewMessage] = field(default_factory=list)
    tasks: list[NewTask] = field(default_factory=list)
    conversations: dict[tuple[int, int | None], Conversation] = field(default_factory=dict)
    open_clocks: dict[tuple[int, int], list[ResponseClock]] = field(default_factory=dict)
    clock_events: set[int] = field(default_factory=set)
    settings: dict[int, Any] = field(default_factory=dict)


def _cursor(session: Session) -> ServiceCursor:
    return repo.cursor(session, CURSOR) or repo.add(session, ServiceCursor(name=CURSOR, last_event_id=0,
                                                                           updated_at=utcnow()))


def reset_watermark(session: Session, to_event_id: int = 0) -> None:
    """Move the watermark back (or forward) to ``to_event_id``; replayed events change nothing."""
    _cursor(session).last_event_id = to_event_id
    session.flush()


def pending(session: Session) -> bool:
    """Return whether message events arrived above the watermark."""
    cur = repo.cursor(session, CURSOR)
    return bool(repo.events_after(session, cur.last_event_id if cur else 0, 1))


def process_new(session: Session, *, data_dir: Path, tz: ZoneInfo, batch: int = BATCH,
                threshold: float | None = None) -> Outcome:
    """Handle one batch of message events above the watermark and move the watermark past them."""
    cur = _cursor(session)
    rows = repo.events_after(session, cur.last_event_id, batch)
    outcome = Outcome(last_event_id=cur.last_event_id)
    if not rows:
        return outcome
    userids = {str(e.properties.get("staff_userid")) for e, _c in rows if (e.properties or {}).get("staff_userid")}
    ctx = _Context(session, responder(session, data_dir, threshold), tz,
                   staff_domain.staff_ids_by_userid(session, userids), outcome)
    _preload(ctx, rows)
    for event, customer_id in rows:
        outcome.events += 1
        if event.type == "message_received":
            _inbound(ctx, event, customer_id)
        else:
            _outbound(ctx, event, customer_id)
    enqueue(session, ctx.replies)  # one bulk insert each per batch; both ignore keys already present
    create_tasks(session, ctx.tasks)
    cur.last_event_id = outcome.last_event_id = rows[-1][0].id
    cur.updated_at = utcnow()
    session.flush()
    return outcome


def _preload(ctx: _Context, rows: list[tuple[Event, int]]) -> None:
    """Read the batch's conversations, open clocks, clocked events and SLA settings in one query each."""
    customers = {c for _e, c in rows}
    ctx.conversations = {(c.customer_id, c.staff_id): c for c in repo.conversations_of(ctx.session, customers)}
    for clock in repo.open_clocks_of(ctx.session, customers):
        ctx.open_clocks.setdefault((clock.customer_id, clock.staff_id), []).append(clock)
    ctx.clock_events = repo.clocked_events(ctx.session, [e.id for e, _c in rows])
    ctx.settings = repo.staff_settings(ctx.session, ctx.staff_ids.values())


def is_group(props: dict[str, Any]) -> bool:
    """Return whether an event's properties describe a group chat."""
    return bool(props.get("roomid") or props.get("group_id")) or props.get("chat_type") == "group"


def _staff_for(ctx: _Context, event: Event, props: dict[str, Any]) -> int | None:
    userid = props.get("staff_userid")
    if userid and str(userid) in ctx.staff_ids:
        return ctx.staff_ids[str(userid)]
    follows = [f for f in staff_domain.owners_of(ctx.session, [event.identity_id]) if f.staff_status == "active"]
    return follows[0].staff_id if follows else None


def _conversation(ctx: _Context, customer_id: int, staff_id: int | None, event: Event) -> Conversation | None:
    """Return the conversation to update with ``event``, or None when it already saw a later event."""
    conv = ctx.conversations.get((customer_id, staff_id))
    if conv is None:  # added without a flush: the batch's conversations are all known to ``ctx``
        conv = ctx.conversations[(customer_id, staff_id)] = Conversation(
            customer_id=customer_id, staff_id=staff_id, state="new", last_event_id=0, updated_at=event.occurred_at)
        ctx.session.add(conv)
        return conv
    return conv if conv.last_event_id < event.id else None


def _inbound(ctx: _Context, event: Event, customer_id: int) -> None:
    props = event.properties or {}
    text = props.get("text")
    if is_group(props) or not isinstance(text, str) or not text.strip():
        return
    if handle_inbound_text(ctx.session, customer_id, "wecom", text, now=event.occurred_at):
        ctx.outcome.unsubscribed += 1  # 退订 / TD: the outbox recorded the opt-out; no reply, no hand-off
        return
    staff_id = _staff_for(ctx, event, props)
    conv = _conversation(ctx, customer_id, staff_id, event)
    decision = ctx.responder.decide(text, conv.menu_rule_id if conv else None)
    if decision.reply is not None:
        ctx.outcome.answered += 1
        ctx.replies.append(NewMessage(
            idempotency_key=f"service-reply:{event.event_id}", kind="service_reply", channel="wecom",
            payload={"text": decision.reply, "reason": decision.reason, "rule_id": decision.rule_id,
                     "faq_id": decision.faq_id, "in_reply_to": event.event_id,
                     "staff_userid": props.get("staff_userid")},
            customer_id=customer_id, staff_id=staff_id, category="transactional"))
        if conv is not None:
            conv.state, conv.menu_rule_id = "bot_answered", decision.menu_rule_id
    else:
        ctx.outcome.handed_off += 1
        if conv is not None:
            conv.state, conv.menu_rule_id = "handed_off", None
        if staff_id is not None:
            _hand_off(ctx, event, customer_id, staff_id, text, decision.reason)
    if conv is not None:
        conv.last_event_id, conv.updated_at = event.id, event.occurred_at


def _hand_off(ctx: _Context, event: Event, customer_id: int, staff_id: int, text: str, why: str) -> None:
    ctx.tasks.append(NewTask(
        idempotency_key=f"service-handoff:{event.event_id}", title=f"客户消息待回复：{text[:60]}",
        staff_id=staff_id, customer_id=customer_id, body=f"{text[:1000]}\n\n(转人工：{why})",
        source="service_handoff"))
    opened = ctx.open_clocks.setdefault((customer_id, staff_id), [])
    if opened or event.id in ctx.clock_events:
        return
    if staff_id not in ctx.settings:  # the follower, not named by the event
        ctx.settings.update(repo.staff_settings(ctx.session, [staff_id]))
    settings = ctx.settings.get(staff_id)
    minutes = settings.sla_minutes if settings else DEFAULT_SLA_MINUTES
    hours = settings.working_hours if settings else {}
    due = work_hours.add_working(hours, event.occurred_at, minutes * 60, ctx.tz)
    clock = ResponseClock(event_id=event.id, customer_id=customer_id, staff_id=staff_id,
                          started_at=event.occurred_at, due_at=due, sla_minutes=minutes)
    ctx.session.add(clock)
    opened.append(clock)
    ctx.clock_events.add(event.id)
    ctx.outcome.clocks_started += 1


def _outbound(ctx: _Context, event: Event, customer_id: int) -> None:
    props = event.properties or {}
    userid = props.get("staff_userid")
    staff_id = ctx.staff_ids.get(str(userid)) if userid else None
    if staff_id is None or props.get("auto_reply") or is_group(props):
        return
    opened = ctx.open_clocks.get((customer_id, staff_id), [])
    for clock in [c for c in opened if c.started_at <= event.occurred_at]:
        clock.replied_at, clock.reply_event_id = event.occurred_at, event.id
        opened.remove(clock)
        ctx.outcome.clocks_stopped += 1
    conv = _conversation(ctx, customer_id, staff_id, event)
    if conv is not None:
        conv.state, conv.menu_rule_id = "staff_replied", None
        conv.last_event_id, conv.updated_at = event.id, event.occurred_at


def alert_breaches(session: Session, *, now: datetime | None = None, limit: int = 1000) -> int:
    """Give the staff member and their supervisor a task for each clock past its deadline; return how many clocks."""
    now = now or utcnow()
    clocks = repo.due_unalerted(session, now, limit)
    settings = repo.staff_settings(session, {c.staff_id for c in clocks})
    names = {s.id: s.name for s in staff_domain.staff_by_ids(
        session, {c.staff_id for c in clocks} | {s.supervisor_id for s in settings.values() if s.supervisor_id})
        .values()}
    tasks: list[NewTask] = []
    for clock in clocks:
        who = names.get(clock.staff_id, str(clock.staff_id))
        body = (f"客户 {clock.customer_id} 的消息超过 {clock.sla_minutes} 分钟（工作时间）未回复："
                f"{who}，截止 {clock.due_at.isoformat()}")
        tasks.append(NewTask(idempotency_key=f"sla-breach:{clock.id}:staff", title="首次响应超时",
                             staff_id=clock.staff_id, customer_id=clock.customer_id, body=body, due_at=now,
                             source="service_sla"))
        sup = settings[clock.staff_id].supervisor_id if clock.staff_id in settings else None
        if sup:
            tasks.append(NewTask(idempotency_key=f"sla-breach:{clock.id}:supervisor", title=f"下属首次响应超时：{who}",
                                 staff_id=sup, customer_id=clock.customer_id, body=body, due_at=now,
                                 source="service_sla"))
        clock.alerted_at = now
    create_tasks(session, tasks, now=now)
    session.flush()
    return len(clocks)
