"""Ingestion: validate → dedupe → resolve identity (OneID) → append facts → hand on to domains.

Each batch is one transaction that holds the identity-graph lock while it checks for duplicates
and writes, so a replayed batch, or the same batch sent twice at once, stores every fact once.
Validation happens per item: a bad item is rejected with a code, the rest of the batch proceeds.
Services flush, never commit: the caller's unit of work commits before anything is acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.channel_codes import service as channel_codes
from siyu.domains.customers import service as customers
from siyu.domains.events import AcceptedEvent, check_type
from siyu.domains.groups import service as groups
from siyu.domains.identity import service as identity
from siyu.domains.ingest import repository as repo
from siyu.domains.ingest.orders import OrderBatchWriter, parse_order
from siyu.domains.ingest.schemas import EventIn, IngestResult
from siyu.domains.ingest.validation import ItemRejected, parse_item, rejection
from siyu.errors import PayloadTooLarge
from siyu.kit.time import UTC, utcnow

CONTACT_TYPES = frozenset({"contact_added", "contact_deleted_by_customer", "contact_deleted_by_staff"})
GROUP_TYPES = frozenset({"group_joined", "group_left"})
CONSENT_TYPES = frozenset({"consent_granted", "consent_withdrawn"})
DISPATCHED = CONTACT_TYPES | GROUP_TYPES | CONSENT_TYPES


@dataclass(frozen=True)
class IngestContext:
    """Settings and identity rules for one process; build once with :meth:`from_settings`."""

    settings: Settings
    ids: identity.IdentityContext

    @classmethod
    def from_settings(cls, settings: Settings, *, memo_limit: int = identity.MEMO_LIMIT) -> IngestContext:
        """Build the context for ``settings`` (``memo_limit``: identities remembered normalised)."""
        return cls(settings, identity.IdentityContext.from_settings(settings, memo_limit=memo_limit))


def check_batch_size(count: int, limit: int) -> None:
    """Refuse batches over the limit as a whole (413) so the client splits them."""
    if count > limit:
        raise PayloadTooLarge(f"a batch holds at most {limit} items; this one has {count}", code="batch_too_large")


def normalise_identities(ctx: IngestContext, raw: dict[str, Any], *, required: bool = True) -> identity.Normalised:
    """Normalise an item's identities; raise ItemRejected for unknown kinds or malformed values."""
    try:
        norm = identity.normalise_all(ctx.ids, raw)
    except identity.IdentityError as exc:
        raise ItemRejected(exc.code, exc.message, "identities") from exc
    if required and not norm.items:
        raise ItemRejected("no_valid_identity", "every identity of this item was a placeholder (null, 0, test number…); "
                           "send at least one real identity", "identities")
    return norm


class EventFact(NamedTuple):
    """A validated event as plain values: cheap to build, to read, and to pickle to the writing process."""

    event_id: str
    type: str
    occurred_at: datetime
    channel: str | None
    properties: dict[str, Any]


def _parse_event(ctx: IngestContext, raw: Any) -> tuple[EventFact, identity.Normalised]:
    event = parse_item(EventIn, raw, ctx.settings.max_properties_bytes)
    try:
        required = check_type(event.type)
    except ValueError as exc:
        raise ItemRejected("unknown_event_type", str(exc), "type") from exc
    missing = [p for p in required if event.properties.get(p) in (None, "")]
    if missing:
        raise ItemRejected("missing_property", f"{event.type} needs properties {', '.join(missing)}", "properties")
    state = event.properties.get("state")
    if event.type == "contact_added" and state is not None and (not isinstance(state, str) or len(state) > 30):
        raise ItemRejected("invalid_state", "properties.state must be a channel-code state of at most 30 characters",
                           "properties.state")
    # UTC here (pydantic's own tzinfo costs in every later conversion and in pickling to the writer)
    fact = EventFact(event.event_id, event.type, event.occurred_at.astimezone(UTC), event.channel, event.properties)
    return fact, normalise_identities(ctx, event.identities)


@dataclass
class Prepared:
    """A batch validated without touching the database: what is left to write, and the result so far.

    CPU-only and picklable, so ``siyu import`` can prepare chunks in worker processes while the main
    process writes. ``items`` hold (index, fact, normalised identities[, …]) per kind; ``refs`` the
    caller's reference per raw item where the kind records one (customer records: ``file:line``).
    """

    items: list[tuple[Any, ...]]
    result: IngestResult
    refs: list[str] = field(default_factory=list)


EventOutcome = tuple[EventFact, identity.Normalised] | ItemRejected


def event_outcome(ctx: IngestContext, raw: Any) -> EventOutcome:
    """Return one raw event validated and normalised, or why it is rejected."""
    try:
        return _parse_event(ctx, raw)
    except ItemRejected as exc:
        return exc


def prepare_events(ctx: IngestContext, raw_items: list[Any]) -> Prepared:
    """Validate and normalise a batch of events (CPU only; run it before taking any lock)."""
    check_batch_size(len(raw_items), ctx.settings.max_batch)
    return collect_events([event_outcome(ctx, raw) for raw in raw_items])


def first_in_batch(seen: set[str], result: IngestResult, event_id: str) -> bool:
    """Return whether ``event_id`` is new to the batch (remembering it); a repeat counts as a duplicate."""
    if event_id in seen:
        result.duplicates += 1
        return False
    seen.add(event_id)
    return True


def collect_events(outcomes: list[EventOutcome]) -> Prepared:
    """Make the prepared batch of per-item outcomes: rejections by index, repeats of an event_id as duplicates."""
    result = IngestResult()
    parsed: list[tuple[int, EventFact, identity.Normalised]] = []
    seen: set[str] = set()
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ItemRejected):
            result.rejected.append(rejection(index, outcome))
        elif first_in_batch(seen, result, outcome[0].event_id):
            parsed.append((index, *outcome))
    return Prepared(parsed, result)


def write_events(session: Session, ctx: IngestContext, prepared: Prepared) -> IngestResult:
    """Store prepared events once each under the graph lock; return counts and rejections."""
    result = prepared.result
    if prepared.items:
        identity.lock(session)
        stored = repo.existing_event_ids(session, [e.event_id for _i, e, _n in prepared.items])
        fresh = [p for p in prepared.items if p[1].event_id not in stored]
        result.duplicates += len(prepared.items) - len(fresh)
        fresh = drop_unknown_states(session, fresh, result)
        result.accepted = len(fresh)
        if fresh:
            _write_events(session, ctx, fresh)
    result.rejected.sort(key=lambda r: r.index)
    return result


def ingest_events(session: Session, ctx: IngestContext, raw_items: list[Any]) -> IngestResult:
    """Validate and store a batch of events once each; return counts and per-item rejections."""
    return write_events(session, ctx, prepare_events(ctx, raw_items))


def drop_unknown_states(session: Session, items: list[tuple[int, EventFact, identity.Normalised]],
                        result: IngestResult) -> list[tuple[int, EventFact, identity.Normalised]]:
    """Reject contact_added events whose channel-code state no code has; return the others."""
    states = {e.properties["state"] for _i, e, _n in items if e.type == "contact_added" and e.properties.get("state")}
    if not states:
        return items
    known = channel_codes.known_states(session, states)
    kept = []
    for index, event, norm in items:
        state = event.properties.get("state") if event.type == "contact_added" else None
        if state and state not in known:
            result.rejected.append(rejection(index, ItemRejected(
                "unknown_state", f"no channel code has state {state!r}; create the code first", "properties.state")))
            continue
        kept.append((index, event, norm))
    return kept


def _write_events(session: Session, ctx: IngestContext, items: list[tuple[int, EventFact, identity.Normalised]]) -> None:
    facts = [identity.FactIdentities("event", e.event_id, e.occurred_at, n.items) for _i, e, n in items]
    resolved = identity.resolver(session, ctx.ids).resolve(facts)
    now = utcnow()
    rows = [{"event_id": e.event_id, "type": e.type, "occurred_at": e.occurred_at, "received_at": now,
             "identity_id": r.anchor_id, "channel": e.channel, "properties": e.properties}
            for (_i, e, _n), r in zip(items, resolved, strict=True)]
    handled = [n for n, (_i, e, _n) in enumerate(items) if e.type in DISPATCHED]
    if handled:  # rare in bulk: most events only need storing
        kept = set(handled)
        repo.insert_events(session, [row for n, row in enumerate(rows) if n not in kept])
    else:
        repo.insert_events(session, rows)
    ids = repo.insert_events_returning(session, [rows[n] for n in handled])
    junk = [row for _i, e, n in items if n.junk for row in identity.junk_issue_rows(n.junk, "event", e.event_id)]
    identity.record_junk(session, junk)
    accepted = [AcceptedEvent(pk, items[n][1].event_id, items[n][1].type, items[n][1].occurred_at,
                              resolved[n].anchor_id, resolved[n].customer_id, items[n][1].channel,
                              items[n][1].properties, resolved[n].identity_ids)
                for pk, n in zip(ids, handled, strict=True)]
    dispatch(session, ctx.settings, accepted)


HANDLERS: list[tuple[frozenset[str], Callable[[Session, Settings, list[AcceptedEvent]], None]]] = [
    (CONTACT_TYPES, channel_codes.apply_contact_events),
    (GROUP_TYPES, lambda session, _settings, events: groups.apply_group_events(session, events)),
    (CONSENT_TYPES, lambda session, _settings, events: customers.apply_consent_events(session, events)),
]


def dispatch(session: Session, settings: Settings, events: list[AcceptedEvent]) -> None:
    """Hand stored events to the domains that keep state derived from them (same transaction)."""
    for types, handler in HANDLERS:
        mine = [e for e in events if e.type in types]
        if mine:
            handler(session, settings, mine)


def prepare_orders(ctx: IngestContext, raw_items: list[Any]) -> Prepared:
    """Validate and normalise a batch of order facts (CPU only; run it before taking any lock)."""
    check_batch_size(len(raw_items), ctx.settings.max_batch)
    result = IngestResult()
    parsed = []
    for index, raw in enumerate(raw_items):
        try:
            parsed.append((index, parse_order(raw, ctx.settings.max_properties_bytes,
                                              lambda ids: normalise_identities(ctx, ids, required=False))))
        except ItemRejected as exc:
            result.rejected.append(rejection(index, exc))
    return Prepared(parsed, result)


def write_orders(session: Session, ctx: IngestContext, prepared: Prepared) -> IngestResult:
    """Store prepared order facts once each (by order_id + status + refund_id) under the graph lock."""
    result = prepared.result
    if prepared.items:
        identity.lock(session)
        OrderBatchWriter(session, ctx.ids, result).write(prepared.items)
    result.rejected.sort(key=lambda r: r.index)
    return result


def ingest_orders(session: Session, ctx: IngestContext, raw_items: list[Any]) -> IngestResult:
    """Store a batch of order facts once each (by order_id + status + refund_id)."""
    return write_orders(session, ctx, prepare_orders(ctx, raw_items))
