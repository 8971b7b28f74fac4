"""What the dispatcher would do with a message to each of many customers: one source of truth for previews.

:func:`preview_policy` loads the facts the dispatcher loads (``facts.load_facts``, set-based) and applies
the dispatcher's own :func:`policy.decide` to one hypothetical message per customer at ``now``, in
ascending customer order (the order a bulk enqueue's rows are claimed in, which matters only to global
caps). Quiet hours are a hold, not an exclusion: the message waits until the window ends and is then
decided again from the top (caps included). Channel adapters are not consulted (``no_adapter`` is the
dispatcher's own concern).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.domains.outbox.facts import load_facts
from siyu.domains.outbox.policy import Decision, Delivered, Due, Policy, decide
from siyu.domains.outbox.service import load_policy
from siyu.kit.time import ensure_utc

HELD = "quiet_hours"


@dataclass(frozen=True, slots=True)
class PolicyPreview:
    """Each customer's verdict (``policy.Decision``) and the summaries a preview shows."""

    verdicts: dict[int, Decision]

    def sendable(self) -> list[int]:
        """Return the customers whose message would go now, ascending."""
        return [c for c, d in self.verdicts.items() if d.action == "send"]

    def held(self) -> dict[int, datetime]:
        """Return the customers held by quiet hours and when each hold ends (UTC)."""
        return {c: d.until for c, d in self.verdicts.items() if d.reason == HELD and d.until is not None}

    def excluded(self) -> dict[int, str]:
        """Return the customers the policy suppresses, drops or defers for a cap, with the reason."""
        return {c: d.reason or d.action for c, d in self.verdicts.items() if d.action != "send" and d.reason != HELD}

    def counts(self) -> Counter[str]:
        """Return how many customers get each outcome: ``send``, ``quiet_hours`` or an exclusion's reason."""
        return Counter("send" if d.action == "send" else (d.reason or d.action) for d in self.verdicts.values())


def preview_policy(session: Session, customer_ids: Iterable[int], *, channel: str, category: str, now: datetime,
                   tz: ZoneInfo, mass_message_id: int | None = None, policy: Policy | None = None) -> PolicyPreview:
    """Return what the dispatcher would decide at ``now`` for one message on ``channel`` to each customer."""
    now = ensure_utc(now)
    policy = policy or load_policy(session)
    ids = sorted(set(customer_ids))
    facts = load_facts(session, policy, tz, now, customers=ids, marketing=ids if category == "marketing" else ())
    by_customer: dict[int, list[Delivered]] = defaultdict(list)
    for d in facts.delivered:
        by_customer[d.customer_id].append(d)
    verdicts: dict[int, Decision] = {}
    for c in ids:
        # decide reads (and appends to) only this customer's sends; global counts stay shared
        facts.delivered = by_customer[c]
        verdicts[c] = decide(Due(0, channel, category, c, mass_message_id), policy, facts, now)
    return PolicyPreview(verdicts)
