"""WeCom contact statistics (联系客户统计) per staff member and day: checks, storage, a period's response.

WeCom's ``externalcontact/get_user_behavior_data`` answers, per staff member and day, how many chats
the member had with customers (``chat_cnt``), messages sent (``message_cnt``), the percentage of
customer-started chats the member replied to (``reply_percentage``, absent without such chats), the
average minutes to the first reply (``avg_reply_time``, absent without replies), customers who
deleted or blocked the member (``negative_feedback_cnt``), friend requests sent (``new_apply_cnt``) and
new customers (``new_contact_cnt``). Individual messages are only available through the paid 会话存档,
so response quality is measured from these daily figures. ``stat_time`` is the start of the day
(00:00 in the brand's zone, as WeCom sends it for China).

A day sent again replaces the stored one, so an integration can re-send a range safely. Over a
period of several days:

- reply rate = Σ reply_percentage × chat_cnt / Σ chat_cnt, over the days that report a reply
  percentage (weighted by chats: a busy day counts more than a quiet one);
- average reply time = Σ avg_reply_time × replied / Σ replied, over the days that report one, where a
  day's replied chats = chat_cnt × reply_percentage / 100 (weighted by the chats it averages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.domains.staff import repository as repo
from siyu.errors import NotFound, ValidationFailed
from siyu.kit.time import day_bounds_utc, local_day, utcnow

HUNDREDTH = Decimal("0.01")
TENTH = Decimal("0.1")
MAX_DAYS = 366  # days in one request


@dataclass(frozen=True, slots=True)
class BehaviorDay:
    """One day of WeCom's ``behavior_data`` (its field names; ``reply_percentage`` a Decimal)."""

    stat_time: int
    chat_cnt: int
    message_cnt: int
    reply_percentage: Decimal | None
    avg_reply_time: int | None
    negative_feedback_cnt: int
    new_apply_cnt: int
    new_contact_cnt: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one call stored: the staff member, how many days, and how many of them replaced stored days."""

    userid: str
    days: int
    replaced: int


@dataclass(frozen=True, slots=True)
class Response:
    """A staff member's response over a period (None where no day reports it)."""

    chats: int
    reply_rate: Decimal | None  # percent, one decimal
    avg_reply_minutes: Decimal | None  # one decimal


def stat_time(day: date, tz: ZoneInfo) -> int:
    """Return WeCom's ``stat_time`` of a brand day: epoch seconds of its start."""
    return int(day_bounds_utc(day, tz)[0].timestamp())


def _invalid(message: str, code: str, index: int, field: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, index=index, field=f"behavior_data[{index}].{field}")


def _day(index: int, d: BehaviorDay, tz: ZoneInfo, today: date) -> date:
    """Check one day's figures; return its brand day."""
    day = local_day(datetime.fromtimestamp(d.stat_time, tz), tz)
    if stat_time(day, tz) != d.stat_time:
        raise _invalid(f"stat_time {d.stat_time} is not the start (00:00) of a day in {tz.key}; WeCom sends "
                       f"{stat_time(day, tz)} for {day}", "invalid_stat_time", index, "stat_time")
    if day > today:
        raise _invalid(f"stat_time {d.stat_time} is {day}, a day still to come", "future_day", index, "stat_time")
    counts = {"chat_cnt": d.chat_cnt, "message_cnt": d.message_cnt, "negative_feedback_cnt": d.negative_feedback_cnt,
              "new_apply_cnt": d.new_apply_cnt, "new_contact_cnt": d.new_contact_cnt,
              "avg_reply_time": d.avg_reply_time or 0}
    for field, value in counts.items():
        if value < 0:
            raise _invalid(f"{field} must not be negative", "invalid_value", index, field)
    pct = d.reply_percentage
    if pct is not None and (not 0 <= pct <= 100 or pct != pct.quantize(HUNDREDTH)):
        raise _invalid("reply_percentage must be 0-100 with at most two decimals", "invalid_value", index,
                       "reply_percentage")
    return day


def record_behavior(session: Session, userid: str, days: Sequence[BehaviorDay], tz: ZoneInfo) -> Recorded:
    """Store a staff member's statistics, replacing the days already stored; raise on a bad day (nothing stored)."""
    member = repo.by_userid(session, userid)
    if member is None:
        raise NotFound(f"no staff member with userid {userid!r}; create it first", code="staff_not_found")
    today = local_day(utcnow(), tz)
    rows: dict[date, dict[str, object]] = {}
    for index, d in enumerate(days):
        day = _day(index, d, tz, today)
        if day in rows:
            raise _invalid(f"{day} appears twice", "duplicate_day", index, "stat_time")
        rows[day] = {"day": day, "chat_cnt": d.chat_cnt, "message_cnt": d.message_cnt,
                     "reply_rate_bp": None if d.reply_percentage is None else int(d.reply_percentage * 100),
                     "avg_reply_minutes": d.avg_reply_time, "negative_feedback_cnt": d.negative_feedback_cnt,
                     "new_apply_cnt": d.new_apply_cnt, "new_contact_cnt": d.new_contact_cnt, "received_at": utcnow()}
    replaced = repo.behavior_days(session, member.id, list(rows)) if rows else 0
    repo.replace_behavior(session, member.id, list(rows.values()))
    return Recorded(userid=member.userid, days=len(rows), replaced=replaced)


def response_between(session: Session, staff_ids: Iterable[int], first: date, last: date) -> dict[int, Response]:
    """Return {staff_id: response over days [first, last]} for the staff members with statistics then."""
    out: dict[int, Response] = {}
    for row in repo.behavior_sums(session, staff_ids, first, last):
        # Σ rate × chats with rate = bp / 100; replied chats = rate × chats / 100 = bp × chats / 10,000
        weighted, replied = Decimal(int(row.rate_chats)) / 100, Decimal(int(row.timed)) / 10_000
        minutes = Decimal(int(row.minutes)) / 10_000
        out[row.staff_id] = Response(chats=int(row.chats), reply_rate=_tenth(weighted, int(row.rated)),
                                     avg_reply_minutes=_tenth(minutes, replied))
    return out


def _tenth(total: Decimal | int, weight: Decimal | int) -> Decimal | None:
    return (Decimal(total) / weight).quantize(TENTH, ROUND_HALF_UP) if weight else None
