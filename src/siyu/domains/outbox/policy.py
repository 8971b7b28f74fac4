"""The messaging policy: what the dispatcher does with a due message before any channel sees it.

Pure functions over a :class:`Policy` (stored as one JSON document, ``messaging_policy``) and the
facts a batch loaded (opt-outs, consents, marketing messages already sent): no SQL, no clock
(``now`` is passed in), so the caps × quiet hours × consent matrix is tested exhaustively.

Order of the checks, first match wins (the reason codes are documented in docs/messaging.md):
do-not-contact (any category) → transactional messages go → unsubscribed → consent withdrawn →
quiet hours (deferred to the window's end) → frequency caps (customer, then global; per period,
channel and category) → the WeCom mass-message platform limit. Caps count only marketing messages
that were sent or are being sent; their periods are brand-local days, ISO weeks and months.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator

from siyu.kit.time import ensure_utc

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
# The channel a consent fact names for each outbox channel (consents say "wecom", not "wecom_group").
CONSENT_CHANNEL = {"wecom": "wecom", "wecom_group": "wecom", "wecom_mass": "wecom", "sms": "sms", "email": "email"}


class CapRule(BaseModel):
    """At most ``limit`` marketing messages per ``period``, per customer or for the whole brand."""

    scope: Literal["customer", "global"] = "customer"
    period: Period
    limit: int = Field(ge=0)
    channel: str = Field(default="*", max_length=32, description="An outbox channel, or * for all.")


class QuietHours(BaseModel):
    """The local hours in which marketing messages wait (customer's time zone, else the brand's)."""

    enabled: bool = True
    start: time = time(22, 0)
    end: time = time(8, 0)


class Policy(BaseModel):
    """The stored messaging policy (defaults are the documented ones)."""

    caps: list[CapRule] = Field(default_factory=lambda: [CapRule(period="day", limit=2),
                                                         CapRule(period="week", limit=5),
                                                         CapRule(period="month", limit=12)])
    over_cap: Literal["defer", "drop"] = "defer"
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    wecom_mass_limit: Literal["month_days", "week_7", "day_1"] = "month_days"
    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff_base_seconds: float = Field(default=30, gt=0, le=86_400)
    backoff_max_seconds: float = Field(default=3_600, gt=0, le=7 * 86_400)
    rate_per_minute: dict[str, int] = Field(default_factory=lambda: {"wecom": 10_000, "wecom_group": 10_000,
                                                                     "wecom_mass": 10_000})

    @field_validator("rate_per_minute")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        if any(n <= 0 for n in v.values()):
            raise ValueError("rate_per_minute values must be positive")
        return v


@dataclass(frozen=True, slots=True)
class Due:
    """The fields of a due message the policy reads."""

    id: int
    channel: str
    category: str
    customer_id: int | None
    mass_message_id: int | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do: ``send``, ``defer`` (until ``until``), ``drop`` or ``suppress``, with the reason."""

    action: Literal["send", "defer", "drop", "suppress"]
    reason: str | None = None
    until: datetime | None = None


SEND = Decision("send")


@dataclass(frozen=True, slots=True)
class Delivered:
    """A marketing message already sent (or being sent): what caps count."""

    customer_id: int
    channel: str
    at: datetime
    mass_message_id: int | None


@dataclass
class BatchFacts:
    """What one batch loaded for its customers; :func:`decide` records the sends it allows in it."""

    tz: ZoneInfo
    opt_outs: set[tuple[int, str, str]] = field(default_factory=set)  # (customer, channel or *, scope)
    withdrawn: set[tuple[int, str]] = field(default_factory=set)  # (customer, consent channel or "all")
    zones: dict[int, ZoneInfo] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)  # this customer set's, since the widest period
    global_counts: Counter[tuple[str, Period]] = field(default_factory=Counter)  # (channel or *, period)


@lru_cache(maxsize=256)  # one batch or preview asks for the same few periods once per message
def period_bounds(now: datetime, period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC start and end of the brand-local day, ISO week or month containing ``now``."""
    day = ensure_utc(now).astimezone(tz).date()
    if period == "day":
        first, last = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    return _local_midnight(first, tz), _local_midnight(last, tz)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return ensure_utc(datetime.combine(day, time(0), tzinfo=tz))


def quiet_until(now: datetime, quiet: QuietHours, tz: ZoneInfo) -> datetime | None:
    """Return when the quiet window containing ``now`` ends (UTC), or None outside it."""
    if not quiet.enabled or quiet.start == quiet.end:
        return None
    local = ensure_utc(now).astimezone(tz)
    t = local.time().replace(tzinfo=None)
    wraps = quiet.start > quiet.end  # 22:00-08:00 spans midnight
    inside = (t >= quiet.start or t < quiet.end) if wraps else (quiet.start <= t < quiet.end)
    if not inside:
        return None
    end_day = local.date() + timedelta(days=1) if wraps and t >= quiet.start else local.date()
    return ensure_utc(datetime.combine(end_day, quiet.end, tzinfo=tz))


def mass_limit(rule: str, now: datetime, tz: ZoneInfo) -> tuple[Period, int]:
    """Return the WeCom mass-message limit's period and count under ``rule`` at ``now``."""
    if rule == "day_1":
        return "day", 1
    if rule == "week_7":
        return "week", 7
    local = ensure_utc(now).astimezone(tz)
    return "month", calendar.monthrange(local.year, local.month)[1]


def decide(msg: Due, policy: Policy, facts: BatchFacts, now: datetime) -> Decision:
    """Return what the dispatcher does with ``msg`` now; a send is counted in ``facts`` for the batch."""
    c = msg.customer_id
    if c is not None and ((c, "*", "all") in facts.opt_outs or (c, msg.channel, "all") in facts.opt_outs):
        return Decision("suppress", "do_not_contact")
    if msg.category != "marketing":
        return SEND
    if c is not None:
        blocked = _consent_block(msg, c, facts)
        if blocked:
            return blocked
        until = quiet_until(now, policy.quiet_hours, facts.zones.get(c, facts.tz))
        if until is not None:
            return Decision("defer", "quiet_hours", until)
    over = _over_cap(msg, policy, facts, now)
    if over is not None:
        reason, period = over
        if policy.over_cap == "drop":
            return Decision("drop", reason)
        return Decision("defer", reason, period_bounds(now, period, facts.tz)[1])
    _count(msg, facts, now)
    return SEND


def _consent_block(msg: Due, c: int, facts: BatchFacts) -> Decision | None:
    if (c, "*", "marketing") in facts.opt_outs or (c, msg.channel, "marketing") in facts.opt_outs:
        return Decision("suppress", "unsubscribed")
    consent_channel = CONSENT_CHANNEL.get(msg.channel)
    if consent_channel and ((c, consent_channel) in facts.withdrawn or (c, "all") in facts.withdrawn):
        return Decision("suppress", "consent_withdrawn")
    return None


def _over_cap(msg: Due, policy: Policy, facts: BatchFacts, now: datetime) -> tuple[str, Period] | None:
    for rule in policy.caps:
        if rule.channel not in ("*", msg.channel):
            continue
        if rule.scope == "global":
            if facts.global_counts[(rule.channel, rule.period)] >= rule.limit:
                return f"cap_global_{rule.period}", rule.period
        elif msg.customer_id is not None and _sent(facts, msg.customer_id, rule.channel, rule.period, now) >= rule.limit:
            return f"cap_customer_{rule.period}", rule.period
    if msg.mass_message_id is not None and msg.customer_id is not None and msg.channel.startswith("wecom"):
        period, limit = mass_limit(policy.wecom_mass_limit, now, facts.tz)
        start, end = period_bounds(now, period, facts.tz)
        seen = {d.mass_message_id for d in facts.delivered if d.customer_id == msg.customer_id
                and d.mass_message_id is not None and d.channel.startswith("wecom") and start <= d.at < end}
        if msg.mass_message_id not in seen and len(seen) >= limit:
            return "wecom_mass_limit", period
    return None


def _sent(facts: BatchFacts, customer_id: int, channel: str, period: Period, now: datetime) -> int:
    start, end = period_bounds(now, period, facts.tz)
    return sum(1 for d in facts.delivered if d.customer_id == customer_id and start <= d.at < end
               and (channel == "*" or d.channel == channel))


def _count(msg: Due, facts: BatchFacts, now: datetime) -> None:
    if msg.customer_id is not None:
        facts.delivered.append(Delivered(msg.customer_id, msg.channel, ensure_utc(now), msg.mass_message_id))
    for ch in ("*", msg.channel):
        for p in PERIODS:
            facts.global_counts[(ch, p)] += 1


def policy_from_doc(doc: dict[str, Any] | None) -> Policy:
    """Return the policy stored as ``doc`` (defaults for what it does not say)."""
    return Policy.model_validate(doc or {})
