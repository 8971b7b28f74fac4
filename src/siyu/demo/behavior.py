"""WeCom contact statistics of the demo brand's staff: one row per staff member per day.

Cheap and deterministic: the figures of a staff member's day come from a random stream seeded by
(seed, userid, day) and from the member's workload that day as the summaries know it (customers who
added and deleted them that day, and the running count of customers they gained so far), so busy
members chat more and answer more slowly, and ``new_contact_cnt`` / ``negative_feedback_cnt`` agree
with the dashboard. It runs after the summaries are built, the same way for both write paths, and
stores through the staff service as the API would.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from siyu.analytics import health
from siyu.config import Settings
from siyu.demo.plan import BrandPlan
from siyu.domains.staff import behavior
from siyu.domains.staff import service as staff
from siyu.kit.time import UTC, local_day, utcnow


def _traits(seed: int, userid: str) -> tuple[float, float, float]:
    """Return a member's (diligence: share of chats answered, minutes to answer, share of customers chatting a day)."""
    rng = random.Random(f"{seed}:{userid}")
    return rng.uniform(0.72, 0.98), rng.uniform(2.0, 25.0), rng.uniform(0.004, 0.02)


def _day(seed: int, userid: str, day: date, gained: int, added: int,
         traits: tuple[float, float, float]) -> tuple[int, int, Decimal | None, int | None, int]:
    """Return (chats, messages, reply percentage, minutes to the first reply, friend requests) of one day."""
    rng = random.Random(f"{seed}:{userid}:{day.toordinal()}")
    diligence, minutes, chatty = traits
    chats = added + round(max(gained, 0) * chatty * rng.uniform(0.5, 1.5))
    if not chats:
        return 0, 0, None, None, round(rng.random() * 1.2)
    rate = min(1.0, max(0.3, rng.gauss(diligence, 0.05)))
    reply = Decimal(str(round(rate * 100, 2)))
    slower = 1 + min(chats, 300) / 150  # a busy day answers later (up to three times slower)
    return (chats, round(chats * rng.uniform(2, 6)), reply, max(1, round(minutes * slower * rng.uniform(0.7, 1.3))),
            round(added * rng.uniform(0, 0.3)))


def record(session: Session, plan: BrandPlan, settings: Settings) -> int:
    """Store a statistics row for every staff member and day of the plan's window; return how many."""
    tz = settings.tz
    first = local_day(datetime.fromtimestamp(plan.start, UTC), tz)
    last = min(local_day(datetime.fromtimestamp(plan.end - 1, UTC), tz), local_day(utcnow(), tz))
    flows = health.staff_days(session, first, last)
    members = staff.staff_by_userids(session, [m.userid for m in plan.staff])
    stored = 0
    for member in plan.staff:
        sid = members[member.userid].id
        departed = plan.departures.get(member.userid)
        until = min(last, local_day(datetime.fromtimestamp(departed[0], UTC), tz)) if departed else last
        traits, gained, days = _traits(plan.seed, member.userid), 0, []
        day = first
        while day <= until:
            added, deleted = flows.get((sid, day), (0, 0))
            chats, messages, reply, minutes, applies = _day(plan.seed, member.userid, day, gained, added, traits)
            days.append(behavior.BehaviorDay(behavior.stat_time(day, tz), chats, messages, reply, minutes, deleted,
                                             applies, added))
            gained += added - deleted
            day += timedelta(days=1)
        stored += behavior.record_behavior(session, member.userid, days, tz).days
    return stored
