"""The dispatcher: claim due messages in batches, apply the policy, send through adapters, record outcomes.

One turn (:meth:`Dispatcher.run_once`) is three steps, each its own transaction or none:

1. **Claim** (writer transaction): lock up to ``batch`` due rows (``repository.claim_due``: PostgreSQL
   ``FOR UPDATE SKIP LOCKED``, SQLite a serialised writer), load the batch's facts (opt-outs,
   consents, time zones, marketing sent this month) and apply :func:`policy.decide` to each row.
   Non-sends are written at once with their reason (deferred with the time to look again, dropped,
   suppressed); sends become ``sending`` with ``claimed_by`` this worker, ``attempts + 1``, ``sent_at``
   the claim time (what caps count) and a lease: ``claimed_until`` = ``send_after`` = now + lease.
2. **Send** (no transaction): each claimed message goes to its channel's adapter with its
   idempotency key, in round-robin order across sources (journeys, mass messages, …) and through the
   channel's token bucket.
3. **Mark** (writer transaction): ``sent``, ``failed`` (transient: next try after exponential
   backoff with jitter) or ``dead`` (permanent, or out of attempts) with the error, only on rows this
   worker still holds.

A worker killed before step 3 leaves ``sending`` rows whose lease runs out; they become due again
and are re-sent with the same idempotency key. Channels that deduplicate on it (the record-only
adapters, webhooks whose receivers honour ``Idempotency-Key``) then deliver once; SMTP cannot
deduplicate, so email is at-least-once in that window (docs/messaging.md#exactly-once-and-its-limits).
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.db.engine import unit_of_work
from siyu.domains.outbox import repository as repo
from siyu.domains.outbox.addresses import ContactAddresses
from siyu.domains.outbox.models import OutboxMessage
from siyu.domains.outbox.facts import load_facts
from siyu.domains.outbox.policy import BatchFacts, Decision, Due, Policy, decide
from siyu.domains.outbox.ports import ChannelAdapter, Outgoing, PermanentSendError, TransientSendError
from siyu.domains.outbox.ratelimit import RateLimiter
from siyu.domains.outbox.service import load_policy
from siyu.kit.time import ensure_utc, utcnow

log = structlog.get_logger("siyu.outbox")
STATUS_OF = {"defer": "deferred", "drop": "dropped", "suppress": "suppressed"}


@dataclass
class TurnStats:
    """What one turn did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # reason → count of non-sends


def backoff(attempts: int, policy: Policy, rng: random.Random) -> timedelta:
    """Return the wait before try ``attempts + 1``: exponential, capped, with jitter in [50%, 100%]."""
    raw = min(policy.backoff_max_seconds, policy.backoff_base_seconds * 2 ** max(0, attempts - 1))
    return timedelta(seconds=raw * (0.5 + rng.random() / 2))


def fair_order(messages: Sequence[Outgoing]) -> list[Outgoing]:
    """Return ``messages`` interleaved round-robin across their source kinds (journey, mass, …)."""
    lanes: dict[str, deque[Outgoing]] = {}
    for m in messages:
        lanes.setdefault((m.source or "other").split(":", 1)[0], deque()).append(m)
    out: list[Outgoing] = []
    while lanes:
        for key in list(lanes):
            out.append(lanes[key].popleft())
            if not lanes[key]:
                del lanes[key]
    return out


class Dispatcher:
    """Sends due outbox messages through channel adapters, under the stored policy."""

    def __init__(self, engine: Engine, adapters: Mapping[str, ChannelAdapter], *, tz: ZoneInfo, holder: str,
                 batch: int = 200, lease: timedelta = timedelta(minutes=5), limiter: RateLimiter | None = None,
                 rng: random.Random | None = None, clock: Callable[[], datetime] = utcnow,
                 addresses: ContactAddresses | None = None) -> None:
        self.engine, self.adapters, self.tz, self.holder = engine, dict(adapters), tz, holder
        self.addresses = addresses  # fills in the email and SMS addresses of messages to a customer
        self.batch, self.lease, self.limiter = batch, lease, limiter
        self.rng, self.clock = rng or random.Random(), clock

    def run_once(self, now: datetime | None = None) -> TurnStats:
        """Claim, send and mark one batch; return what happened."""
        now = ensure_utc(now or self.clock())
        stats = TurnStats()
        with unit_of_work(self.engine) as s:
            policy = load_policy(s)
            claimed, attempts = self._claim(s, now, policy, stats)
        if self.limiter is not None:
            self.limiter.configure(policy.rate_per_minute)
        results = [self._send(m) for m in fair_order(claimed)]
        with unit_of_work(self.engine) as s:
            self._mark(s, results, attempts, policy, stats, now)
        if stats.claimed:
            log.info("outbox_turn", claimed=stats.claimed, sent=stats.sent, failed=stats.failed, dead=stats.dead,
                     held=dict(stats.held))
        return stats

    def drain(self, now: datetime | None = None, max_turns: int = 1_000_000) -> TurnStats:
        """Run turns until nothing is due at ``now``; return the summed stats."""
        total = TurnStats()
        for _ in range(max_turns):
            stats = self.run_once(now)
            if not stats.claimed:
                break
            total.claimed += stats.claimed
            total.sent += stats.sent
            total.failed += stats.failed
            total.dead += stats.dead
            for k, v in stats.held.items():
                total.held[k] += v
        return total

    def _claim(self, s: Session, now: datetime, policy: Policy,
               stats: TurnStats) -> tuple[list[Outgoing], dict[int, int]]:
        rows = repo.claim_due(s, now, self.batch)
        stats.claimed = len(rows)
        if not rows:
            return [], {}
        repo.lock_customers(s, [r.customer_id for r in rows if r.customer_id is not None and r.category == "marketing"])
        facts = self._facts(s, rows, policy, now)
        updates, sending = [], []
        for r in rows:
            d = self._decide(r, policy, facts, now)
            if d.action == "send":
                updates.append({"b_id": r.id, "status": "sending", "claimed_by": self.holder, "claimed_until":
                                now + self.lease, "send_after": now + self.lease, "attempts": r.attempts + 1,
                                "sent_at": now, "reason": None, "updated_at": now})
                sending.append(_outgoing(r))
            else:
                stats.held[d.reason or "?"] += 1
                updates.append({"b_id": r.id, "status": STATUS_OF[d.action], "claimed_by": None,
                                "claimed_until": None, "send_after": d.until or r.send_after,
                                "attempts": r.attempts, "sent_at": None, "reason": d.reason, "updated_at": now})
        repo.apply_updates(s, updates)
        if self.addresses is not None:
            self.addresses.fill(s, sending)
        return sending, {r.id: r.attempts + 1 for r in rows}

    def _decide(self, r: OutboxMessage, policy: Policy, facts: BatchFacts, now: datetime) -> Decision:
        if r.channel not in self.adapters:
            return Decision("defer", "no_adapter", now + timedelta(minutes=5))
        return decide(Due(r.id, r.channel, r.category, r.customer_id, r.mass_message_id), policy, facts, now)

    def _facts(self, s: Session, rows: Sequence[OutboxMessage], policy: Policy, now: datetime) -> BatchFacts:
        return load_facts(s, policy, self.tz, now, customers=[r.customer_id for r in rows if r.customer_id is not None],
                          marketing=[r.customer_id for r in rows if r.customer_id is not None
                                     and r.category == "marketing"],
                          exclude_ids={r.id for r in rows})  # a reclaimed row does not count against itself

    def _send(self, m: Outgoing) -> tuple[Outgoing, str, str | None, str | None]:
        if self.limiter is not None:
            self.limiter.acquire(m.channel)
        try:
            result = self.adapters[m.channel].send(m)
        except PermanentSendError as exc:
            return m, "dead", exc.reason, str(exc)[:2000]
        except TransientSendError as exc:
            return m, "failed", "transient_error", str(exc)[:2000]
        except Exception as exc:  # an adapter bug must not lose the batch: retry, then dead-letter
            log.exception("adapter_error", channel=m.channel, message_id=m.id)
            return m, "failed", "adapter_error", f"{type(exc).__name__}: {exc}"[:2000]
        return m, "sent", result.provider_ref, None

    def _mark(self, s: Session, results: Sequence[tuple[Outgoing, str, str | None, str | None]],
              attempts: Mapping[int, int], policy: Policy, stats: TurnStats, now: datetime) -> None:
        updates = []
        for m, outcome, ref, error in results:
            if outcome == "sent":
                stats.sent += 1
                updates.append({"b_id": m.id, "status": "sent", "claimed_until": None, "provider_ref": ref,
                                "reason": None, "last_error": None, "sent_at": now, "send_after": now,
                                "updated_at": now})
                continue
            tries = attempts.get(m.id, policy.max_attempts)
            if outcome == "failed" and tries < policy.max_attempts:
                stats.failed += 1
                updates.append({"b_id": m.id, "status": "failed", "claimed_until": None, "provider_ref": None,
                                "reason": ref, "last_error": error, "sent_at": None,
                                "send_after": now + backoff(tries, policy, self.rng), "updated_at": now})
            else:
                stats.dead += 1
                reason = ref if outcome == "dead" else "max_attempts"
                updates.append({"b_id": m.id, "status": "dead", "claimed_until": None, "provider_ref": None,
                                "reason": reason, "last_error": error, "sent_at": None, "send_after": now,
                                "updated_at": now})
        repo.apply_updates(s, updates, holder=self.holder)


def _outgoing(r: OutboxMessage) -> Outgoing:
    return Outgoing(id=r.id, idempotency_key=r.idempotency_key, kind=r.kind, channel=r.channel, category=r.category,
                    customer_id=r.customer_id, staff_id=r.staff_id, payload=dict(r.payload or {}), subject=r.subject,
                    source=r.source)
