"""Load what the policy reads for a set of customers: the dispatcher's batches and the preview share it.

Set-based reads (``repository``: opt-outs, marketing consent, time zones, marketing messages sent or
sending since the widest cap period began, global counts per cap rule), never one query per customer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from siyu.domains.outbox import repository as repo
from siyu.domains.outbox.policy import BatchFacts, Delivered, Policy, period_bounds
from siyu.kit.time import ensure_utc


def load_facts(session: Session, policy: Policy, tz: ZoneInfo, now: datetime, *, customers: Iterable[int],
               marketing: Iterable[int], exclude_ids: Collection[int] = ()) -> BatchFacts:
    """Return the facts :func:`policy.decide` needs for ``customers`` (``marketing``: those with marketing messages).

    ``exclude_ids`` are outbox rows that must not count against themselves (a reclaimed row whose lease ran out).
    """
    marketing = sorted(set(marketing))
    since = min(period_bounds(now, p, tz)[0] for p in ("week", "month"))
    facts = BatchFacts(tz=tz, opt_outs=repo.opt_outs(session, customers),
                       withdrawn=repo.withdrawn_consents(session, marketing))
    for c, zone in repo.customer_zones(session, marketing).items():
        try:
            facts.zones[c] = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # an unknown zone falls back to the brand's
    facts.delivered = [Delivered(c, ch, ensure_utc(at), mm) for i, c, ch, at, mm in
                       repo.delivered_since(session, marketing, since) if i not in exclude_ids]
    for rule in policy.caps:
        if rule.scope == "global":
            start, end = period_bounds(now, rule.period, tz)
            facts.global_counts[(rule.channel, rule.period)] = repo.global_count(session, rule.channel, start, end)
    return facts
