"""Preview and send a mass message (rules in siyu.domains.mass_messages.service's docstring).

The preview asks the outbox what its dispatcher would decide for each recipient at the send time
(``outbox.preview_policy``: the dispatcher's own rules and facts, read set-based): excluded by
do-not-contact, unsubscribes, withdrawn consent, caps or the WeCom mass-message limit, or held by
quiet hours until their end. The dispatcher decides (and records) again when each message is due.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains import content, tasks
from siyu.domains.access import Principal, audit
from siyu.domains.mass_messages import repository as repo
from siyu.domains.mass_messages.models import MassMessage
from siyu.domains.mass_messages.schemas import PreviewOut
from siyu.domains.mass_messages.service import SYSTEM, Recipients, id_or_name, get, resolve
from siyu.domains.outbox import NewMessage, enqueue, preview_policy
from siyu.errors import Conflict
from siyu.kit.time import ensure_utc, utcnow

NOTE = ("what the outbox's dispatcher would decide for each recipient at the send time with today's data; "
        "messages held by quiet hours are counted as eligible and decided again when the window ends, and "
        "every message is decided again (and each suppression recorded) when it is due")


def preview(session: Session, mass_id: int, tz: ZoneInfo, principal: Principal = SYSTEM,
            now: datetime | None = None) -> PreviewOut:
    """Return how many recipients the message reaches now and how many the policy would leave."""
    row = get(session, mass_id)
    who = resolve(session, row, principal)
    at = row.send_at or ensure_utc(now or utcnow())
    if who.groups:
        return PreviewOut(audience=0, groups=len(who.groups), eligible=len(who.groups), excluded={},
                          by_staff=dict(Counter(str(o) for _g, o in who.groups if o is not None)),
                          sample=[g for g, _o in who.groups[:20]], note=NOTE)
    verdicts = preview_policy(session, who.customers, channel=row.channel, category="marketing", now=at, tz=tz,
                              mass_message_id=row.id)
    excluded, held = verdicts.excluded(), verdicts.held()
    reasons = Counter(excluded.values())
    if who.skipped:
        reasons["no_staff_member"] = who.skipped
    eligible = [c for c in who.customers if c not in excluded]
    return PreviewOut(audience=len(who.customers) + who.skipped, groups=0, eligible=len(eligible),
                      excluded=dict(sorted(reasons.items())), held=len(held),
                      held_until=max(held.values()) if held else None,
                      by_staff=dict(sorted(Counter(str(who.sender[c]) for c in eligible if c in who.sender).items())),
                      sample=eligible[:20], note=NOTE)


def send(session: Session, settings: Settings, mass_id: int, *, actor: str, principal: Principal = SYSTEM,
         now: datetime | None = None) -> MassMessage:
    """Enqueue the message for every recipient now (once: a second send is refused, and keys dedupe anyway)."""
    now = ensure_utc(now or utcnow())
    row = get(session, mass_id)
    if not repo.claim(session, mass_id, now):
        raise Conflict(f"mass message {mass_id} is {row.status}", code="mass_message_closed")
    session.refresh(row)
    enqueue_all(session, settings, row, resolve(session, row, principal), now)
    audit(session, actor, "mass_message.send", "mass_message", row.id, {"recipients": row.recipients})
    return row


def enqueue_all(session: Session, settings: Settings, row: MassMessage, who: Recipients, now: datetime) -> None:
    """Enqueue one outbox message per recipient and one confirmation task per WeCom sender (idempotent by key)."""
    source = f"mass:{row.id}"
    send_after = max(row.send_at or now, now)
    if who.groups:
        messages = [NewMessage(idempotency_key=f"{source}:group:{gid}", kind="mass_message", channel=row.channel,
                               payload=content.prepare_group_send(session, settings, row.content_id,
                                                                  f"{source}:group:{gid}", variant=row.variant, now=now)
                               | {"group_id": gid}, staff_id=owner, category="marketing", send_after=send_after,
                               source=source, content_id=row.content_id, mass_message_id=row.id)
                    for gid, owner in who.groups]
        senders = Counter(owner for _g, owner in who.groups if owner is not None)
    else:
        prepared, unserved = _prepare(session, settings, row, who.customers, source, now)
        who.skipped += unserved
        messages = [NewMessage(idempotency_key=p.send_key, kind="mass_message", channel=row.channel, payload=p.payload,
                               customer_id=p.customer_id, staff_id=who.sender.get(p.customer_id), category="marketing",
                               send_after=send_after, source=source, content_id=p.payload["content_id"],
                               mass_message_id=row.id)
                    for p in prepared]
        senders = Counter(who.sender[p.customer_id] for p in prepared if p.customer_id in who.sender)
    enqueue(session, messages, now=now)
    made = _confirmation_tasks(session, row, senders, send_after) if row.channel.startswith("wecom") else 0
    row.status, row.sent_at, row.updated_at = "sent", now, now
    row.recipients, row.skipped, row.tasks = len(messages), who.skipped, made
    session.flush()


def _prepare(session: Session, settings: Settings, row: MassMessage, customers: list[int], source: str,
             now: datetime) -> tuple[list[content.Prepared], int]:
    """Render each customer's message: the fixed item, or their best item of the collection (seeded by the id)."""
    keys = {c: f"{source}:{c}" for c in customers}
    if row.content_id is not None:
        return content.prepare_sends(session, settings, row.content_id, keys, source=source, variant=row.variant,
                                     now=now), 0
    choices = content.recommend_each(session, customers, collection=id_or_name(row.collection),
                                     rng=random.Random(row.id), now=now)
    by_item: dict[int, dict[int, str]] = defaultdict(dict)
    for c in customers:
        if choices[c].content_id is not None:
            by_item[choices[c].content_id][c] = keys[c]  # type: ignore[index]
    prepared = [p for item_id, chosen in sorted(by_item.items())
                for p in content.prepare_sends(session, settings, item_id, chosen, source=source, now=now)]
    return prepared, len(customers) - len(prepared)


def _confirmation_tasks(session: Session, row: MassMessage, senders: Counter[int], due: datetime) -> int:
    new = [tasks.NewTask(idempotency_key=f"mass:{row.id}:confirm:{staff_id}", staff_id=staff_id,
                         title=f"确认群发：{row.name}"[:200],
                         body=f"在企业微信确认群发「{row.name}」，共 {count} 位客户/群。", due_at=due,
                         source=f"mass_message:{row.id}")
           for staff_id, count in sorted(senders.items())]
    tasks.create_tasks(session, new)
    return len(new)


def due_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Return the ids of scheduled messages whose send time has come."""
    return repo.due(session, ensure_utc(now), limit)


def send_due(session: Session, settings: Settings, now: datetime | None = None, limit: int = 20) -> list[int]:
    """Send every scheduled message whose time has come; return their ids."""
    now = ensure_utc(now or utcnow())
    sent = []
    for mass_id in repo.due(session, now, limit):
        send(session, settings, mass_id, actor="system:scheduler", now=now)
        sent.append(mass_id)
    return sent
