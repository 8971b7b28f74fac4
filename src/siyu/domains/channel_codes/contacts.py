"""Contact events from WeCom (or any channel): who added whom, and who deleted whom.

Ingestion calls :func:`apply_contact_events` inside the transaction that stored the events. A batch
is handled in a fixed number of queries however many events it holds: codes, staff and the active
follow relations of every identity involved are loaded once; events are then replayed in time
order against that in-memory state (so add-delete-add within one batch, replays and out-of-order
deletes all come out right); the results are written with bulk statements.

``contact_added`` opens a follow relation anchored on the ``external_userid`` identity (else the
event's anchor), unless the same staff member already follows that identity (idempotent replays).
Through a known code it also records first-touch attribution, applies the code's tags, enqueues the
welcome message (idempotency key ``welcome:<event_id>``) and counts an ``added`` for the brand day.
Without ``staff_userid`` the code's strategy picks the staff member, with caps and rotation kept in
memory across the batch. An unknown ``state`` never fails the batch (ingestion refuses those up
front through ``known_states``); the relation is still opened, attributed to no code.

``contact_deleted_by_customer`` / ``contact_deleted_by_staff`` close the matching relation
(``removed_by`` customer / staff) at ``occurred_at`` and count a ``lost`` for the code it came
through. A delete without ``staff_userid`` closes every relation of the identity. A delete older
than the relation it would close is ignored (it belongs to an earlier relation).
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.channel_codes import repository as repo
from siyu.domains.channel_codes.assignment import Plan, pick
from siyu.domains.channel_codes.models import ChannelCode
from siyu.domains.channel_codes.plans import load_plans
from siyu.domains.customers import service as customers
from siyu.domains.events import AcceptedEvent
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.staff import (
    active_counts,
    active_ownerships,
    added_through_code,
    close_ownerships,
    ensure_staff,
    open_ownerships,
    staff_by_ids,
    staff_ids_by_userid,
)
from siyu.domains.tags import apply_tags_bulk
from siyu.kit.time import day_bounds_utc, local_day

log = structlog.get_logger("siyu.channel_codes")

CONTACT_ADDED = "contact_added"
REMOVED_BY = {"contact_deleted_by_customer": "customer", "contact_deleted_by_staff": "staff"}
EVENT_TYPES = frozenset({CONTACT_ADDED, *REMOVED_BY})
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_rng = random.Random()


def render_welcome(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from ``values``; unknown ones stay as written (no format-string risks)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _text(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    return value.strip() or None if isinstance(value, str) else None


def _anchor(event: AcceptedEvent) -> int:
    return event.identities.get("external_userid", event.identity_id)


@dataclass(slots=True)
class _Opened:
    event: AcceptedEvent
    code: ChannelCode | None
    staff_id: int
    anchor: int


class _Batch:
    """In-memory state of one batch: relations by identity, pending writes and counters."""

    def __init__(self, session: Session, settings: Settings, events: Sequence[AcceptedEvent], rng: random.Random):
        self.session, self.tz, self.rng = session, settings.tz, rng
        adds = [e for e in events if e.type == CONTACT_ADDED]
        self.codes = repo.by_states(session, {s for e in adds if (s := _text(e.properties, "state"))})
        self.staff = ensure_staff(session, {u for e in adds if (u := _text(e.properties, "staff_userid"))})
        self.staff.update(staff_ids_by_userid(
            session, {u for e in events if e.type != CONTACT_ADDED and (u := _text(e.properties, "staff_userid"))}))
        self.relations: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        for o in active_ownerships(session, {_anchor(e) for e in events}):
            self.relations[o.identity_id][o.staff_id] = {"id": o.id, "channel_code_id": o.channel_code_id,
                                                         "added_at": o.added_at}
        self.new: list[dict[str, Any]] = []
        self.closes: list[tuple[int, Any, str]] = []
        self.opened: list[_Opened] = []
        self.daily: Counter[tuple[int, date, str]] = Counter()
        self.attributions: dict[int, ChannelCode] = {}
        self.tagging: dict[tuple[int, int], ChannelCode] = {}
        self.plans: dict[int, Plan] = {}
        self.added_db: dict[tuple[int, date], dict[int, int]] = {}
        self.added_new: Counter[tuple[int, date, int]] = Counter()
        self.active_db: dict[int, int] = {}
        self.active_delta: Counter[int] = Counter()

    def add(self, event: AcceptedEvent) -> None:
        """Open a relation for a contact_added event (unless one is open) and note its effects."""
        state = _text(event.properties, "state")
        code = self.codes.get(state) if state else None
        if code is not None:
            self.attributions.setdefault(event.customer_id, code)
            if code.tags:
                self.tagging.setdefault((event.customer_id, code.id), code)
        userid = _text(event.properties, "staff_userid")
        staff_id = self.staff.get(userid) if userid else self._assign(code, event)
        if staff_id is None:
            log.warning("contact_added without a staff member", event_id=event.event_id, state=state)
            return
        anchor = _anchor(event)
        if staff_id in self.relations[anchor]:
            return  # already follows: a replay, or a re-add WeCom reported twice
        row = {"identity_id": anchor, "staff_id": staff_id, "channel_code_id": code.id if code else None,
               "source": "channel_code" if code else "event", "added_at": event.occurred_at}
        self.new.append(row)
        self.relations[anchor][staff_id] = row
        self.active_delta[staff_id] += 1
        self.opened.append(_Opened(event, code, staff_id, anchor))
        if code is not None:
            day = local_day(event.occurred_at, self.tz)
            self.daily[(code.id, day, "added")] += 1
            self.added_new[(code.id, day, staff_id)] += 1

    def remove(self, event: AcceptedEvent) -> None:
        """Close the relation(s) a deletion event names and count the loss for their code."""
        userid = _text(event.properties, "staff_userid")
        held = self.relations.get(_anchor(event), {})
        targets = [self.staff.get(userid)] if userid else list(held)
        for staff_id in targets:
            row = held.get(staff_id) if staff_id is not None else None
            if row is None or row["added_at"] > event.occurred_at:
                continue
            del held[staff_id]
            self.active_delta[staff_id] -= 1
            if "id" in row:
                self.closes.append((row["id"], event.occurred_at, REMOVED_BY[event.type]))
            else:
                row["removed_at"], row["removed_by"] = event.occurred_at, REMOVED_BY[event.type]
            if row["channel_code_id"] is not None:
                self.daily[(row["channel_code_id"], local_day(event.occurred_at, self.tz), "lost")] += 1

    def _assign(self, code: ChannelCode | None, event: AcceptedEvent) -> int | None:
        if code is None or not code.active:
            return None
        if code.id not in self.plans:
            self.plans.update(load_plans(self.session, [code]))
        plan = self.plans[code.id]
        day = local_day(event.occurred_at, self.tz)
        if (code.id, day) not in self.added_db:
            start, end = day_bounds_utc(day, self.tz)
            self.added_db[(code.id, day)] = added_through_code(self.session, code.id, start, end)
        added = Counter(self.added_db[(code.id, day)])
        for (cid, d, sid), n in self.added_new.items():
            if cid == code.id and d == day:
                added[sid] += n
        missing = [c.staff_id for c in plan.pool if c.staff_id not in self.active_db]
        if plan.strategy == "least_loaded" and missing:
            self.active_db.update(active_counts(self.session, missing))
        active = {sid: self.active_db.get(sid, 0) + self.active_delta[sid] for sid in self.active_db}
        chosen = pick(plan, event.occurred_at, self.tz, added, active, self.rng)
        return chosen.staff_id if chosen else None

    def write(self) -> None:
        """Write relations, cursors, attribution, tags, welcome messages and daily counters in bulk."""
        open_ownerships(self.session, self.new)
        close_ownerships(self.session, self.closes)
        codes = {c.id: c for c in self.codes.values()}
        for code_id, plan in self.plans.items():
            if codes[code_id].rr_cursor != plan.cursor:
                codes[code_id].rr_cursor = plan.cursor
        self._attribute()
        if self.tagging:
            apply_tags_bulk(self.session, [(customer_id, code.tags, f"channel_code:{code.id}")
                                           for (customer_id, _), code in self.tagging.items()])
        self._welcome()
        totals: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
        for (code_id, day, kind), n in self.daily.items():
            totals[(code_id, day)][0 if kind == "added" else 1] += n
        repo.bump_daily(self.session, [(c, d, a, lo) for (c, d), (a, lo) in totals.items()])
        self.session.flush()

    def _attribute(self) -> None:
        if not self.attributions:
            return
        # One read decides who may still lack a source; they are attributed in one statement.
        pending = repo.customers_maybe_unattributed(self.session, self.attributions)
        customers.attribute_sources(self.session, {cid: (self.attributions[cid].id, self.attributions[cid].platform)
                                                   for cid in pending})

    def _welcome(self) -> None:
        sending = [o for o in self.opened if o.code is not None and o.code.welcome_template]
        if not sending:
            return
        staff = staff_by_ids(self.session, {o.staff_id for o in sending})
        messages = []
        for o in sending:
            assert o.code is not None and o.code.welcome_template is not None
            member = staff[o.staff_id]
            props = o.event.properties
            values = {"customer_name": _text(props, "name") or _text(props, "nickname") or "",
                      "staff_name": member.name, "staff_userid": member.userid, "code_name": o.code.name,
                      "channel": o.code.channel or "", "platform": o.code.platform}
            payload = {"text": render_welcome(o.code.welcome_template, values), "staff_userid": member.userid,
                       "external_userid_identity_id": o.anchor, "welcome_code": _text(props, "welcome_code"),
                       "channel_code_id": o.code.id, "event_id": o.event.event_id}
            messages.append(NewMessage(idempotency_key=f"welcome:{o.event.event_id}", kind="welcome_message",
                                       channel="wecom", payload=payload, customer_id=o.event.customer_id,
                                       staff_id=o.staff_id, send_after=o.event.occurred_at))
        enqueue(self.session, messages)


def apply_contact_events(session: Session, settings: Settings, events: Sequence[AcceptedEvent], *,
                         rng: random.Random | None = None) -> None:
    """Apply contact_added / contact_deleted_* events of one stored batch (other types are ignored)."""
    relevant = sorted((e for e in events if e.type in EVENT_TYPES), key=lambda e: (e.occurred_at, e.id))
    if not relevant:
        return
    batch = _Batch(session, settings, relevant, rng or _rng)
    for event in relevant:
        if event.type == CONTACT_ADDED:
            batch.add(event)
        else:
            batch.remove(event)
    batch.write()

