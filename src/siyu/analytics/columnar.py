"""Every customer's contribution of a full rebuild, computed column-wise (numpy) instead of per customer.

The result is exactly what building a :class:`~siyu.analytics.spans.Contribution` per customer
(:func:`siyu.analytics.contributions.contributions`) and adding each to a
:class:`~siyu.analytics.spans.Delta` gives, with the same definitions, only over all customers at
once: an item list is a run of (key, customer, day) entries sorted together, its daily counts are
counts of (key, day), and its pairs k apart are entries k apart within the same key and customer
(:mod:`siyu.analytics.spans`). A customer's moves in and out of the private domain are the points of
their connections sorted by (customer, time, beginning before end) with a running count of open
connections per customer. Each live customer's ``health_customers`` row is then joined from slices of
these sorted columns. ``tests/analytics/test_health_columns.py`` checks the equality on generated brands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from siyu.analytics import spans as sp
from siyu.analytics.fact_columns import NO_ID, NONE, FactColumns
from siyu.kit.time import local_day

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = EPOCH.date().toordinal()
DAY_BITS = 20  # day ordinals stay below 2**20 (the year 2870)
DAY_MASK = (1 << DAY_BITS) - 1
YEAR_HOURS = 8784
ROWS_CHUNK = 50_000  # health_customers rows built (and written) at a time


def day_ordinals(micros: np.ndarray, tz: ZoneInfo, *, hour: bool = False) -> np.ndarray:
    """Return the brand day (ordinal) of each UTC instant in µs, as ``local_day`` gives it.

    ``hour``: the day of the instant's hour (events and orders are cut by hour, see
    :func:`siyu.analytics.summaries.hour_day`). The zone's offset is looked up at the start and end
    of each instant's hour; an hour in which it changes is resolved instant by instant.
    """
    seconds = micros // 1_000_000
    hours = seconds // 3600
    if hour:
        seconds = hours * 3600
    if not len(seconds):
        return seconds
    first, last = int(hours.min()), int(hours.max())
    if last - first > 4 * len(hours) + 4 * YEAR_HOURS:  # sparse over a long span: only the hours present
        present, index = np.unique(hours, return_inverse=True)
        start, end = _offsets_at(tuple(present.tolist()), tz), _offsets_at(tuple((present + 1).tolist()), tz)
    else:  # whole years of hours, so that the columns of one rebuild share one table
        first, last = first - first % YEAR_HOURS, last - last % YEAR_HOURS + YEAR_HOURS
        table = _offsets(first, last, tz)
        index = hours - first
        start, end = table[:-1], table[1:]
    offset = start[index]
    days = (seconds + offset) // 86400 + EPOCH_ORDINAL
    for i in np.flatnonzero(offset != end[index]).tolist():
        days[i] = local_day(EPOCH + timedelta(seconds=int(seconds[i])), tz).toordinal()
    return days


@lru_cache(maxsize=16)
def _offsets(first: int, last: int, tz: ZoneInfo) -> np.ndarray:
    """Return the zone's UTC offset in seconds at the start of every hour first..last (hours since the epoch)."""
    return _offsets_at(tuple(range(first, last + 1)), tz)


def _offsets_at(hours: tuple[int, ...], tz: ZoneInfo) -> np.ndarray:
    return np.array([int((EPOCH + timedelta(hours=h)).astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
                     for h in hours], dtype=np.int64)


class Sums:
    """Daily values, span counts and state counts, accumulated as packed integer keys."""

    def __init__(self) -> None:
        self.names: list[tuple[str, str]] = []  # (metric, dim) of each key code
        self.codes: dict[tuple[str, str], int] = {}
        self.daily_parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.span_parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.state: Counter[str] = Counter()

    def code(self, metric: str, dim: str) -> int:
        """Return the key code of (metric, dim)."""
        key = (metric, dim)
        if key not in self.codes:
            self.codes[key] = len(self.names)
            self.names.append(key)
        return self.codes[key]

    def codes_for(self, metric: str, ids: np.ndarray) -> np.ndarray:
        """Return the key codes of (metric, str(id)) for each id ('' for NO_ID)."""
        present, index = np.unique(ids, return_inverse=True)
        table = np.array([self.code(metric, "" if v == NO_ID else str(v)) for v in present.tolist()], dtype=np.int64)
        return table[index] if len(ids) else ids

    def daily(self, codes: np.ndarray, days: np.ndarray, values: np.ndarray | None = None) -> None:
        """Count 1 (or add ``values``) for each (key code, day)."""
        if not len(codes):
            return
        _check_days(days)
        if values is None:
            self.daily_parts.append(np.unique((codes << DAY_BITS) | days, return_counts=True))
        else:
            keys, index = np.unique((codes << DAY_BITS) | days, return_inverse=True)
            self.daily_parts.append((keys, _sum_by(index, values, len(keys))))

    def spans(self, codes: np.ndarray, ends: np.ndarray, starts: np.ndarray) -> None:
        """Count 1 for each (key code, end day, start day)."""
        if len(codes):
            _check_days(ends)
            _check_days(starts)
            self.span_parts.append(np.unique((codes << 2 * DAY_BITS) | (ends << DAY_BITS) | starts, return_counts=True))

    def rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Return the ``health_daily`` and ``health_spans`` rows in storage form (days as ISO text), in key order.

        The same values :meth:`siyu.analytics.spans.Delta.add` would sum (zeros left out).
        """
        iso = IsoDays()
        keys, counts = _reduce(self.daily_parts)
        metric, dim = self._names(keys >> DAY_BITS)
        daily = list(zip(metric, iso(keys & DAY_MASK), dim, counts.tolist(), strict=True))
        keys, counts = _reduce(self.span_parts)
        metric, dim = self._names(keys >> 2 * DAY_BITS)
        spans = list(zip(metric, dim, iso((keys >> DAY_BITS) & DAY_MASK), iso(keys & DAY_MASK), counts.tolist(),
                         strict=True))
        daily.sort()
        spans.sort()
        return [r for r in daily if r[-1]], [r for r in spans if r[-1]]

    def _names(self, codes: np.ndarray) -> tuple[list[str], list[str]]:
        names = [self.names[c] for c in codes.tolist()]
        return [m for m, _d in names], [d for _m, d in names]


class IsoDays:
    """ISO text of day ordinals, each day converted once."""

    def __init__(self) -> None:
        self.text: dict[int, str] = {}

    def __call__(self, days: np.ndarray) -> list[str]:
        """Return the ISO text of each day ordinal."""
        text = self.text
        for d in np.unique(days).tolist():
            if d not in text:
                text[d] = date.fromordinal(d).isoformat()
        return [text[d] for d in days.tolist()]


def _check_days(days: np.ndarray) -> None:
    """Refuse day ordinals that would not fit their bits of a packed key."""
    if int(days.min()) < 1 or int(days.max()) > DAY_MASK:
        raise ValueError(f"day ordinals out of range: {int(days.min())}..{int(days.max())}")


def _reduce(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct keys of ``parts`` and the sum of their counts."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys, index = np.unique(np.concatenate([k for k, _ in parts]), return_inverse=True)
    return keys, _sum_by(index, np.concatenate([n for _, n in parts]), len(keys))


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Return the integer sums of ``values`` per index (exact, unlike a float bincount)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, values.astype(np.int64))
    return out


class Lists:
    """Item lists as sorted (key code, customer, day) columns."""

    def __init__(self, key: np.ndarray, customer: np.ndarray, day: np.ndarray, *, distinct: bool) -> None:
        order = np.lexsort((day, customer, key))
        key, customer, day = key[order], customer[order], day[order]
        if distinct and len(key):
            keep = np.ones(len(key), dtype=bool)
            keep[1:] = (key[1:] != key[:-1]) | (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
            key, customer, day = key[keep], customer[keep], day[keep]
        self.key, self.customer, self.day = key, customer, day

    def add_to(self, sums: Sums, gaps: tuple[int, ...] = (1,)) -> None:
        """Add the daily counts and the pairs ``gap`` items apart (``<metric><gap>``) of every list."""
        key, customer, day = self.key, self.customer, self.day
        sums.daily(key, day)
        for gap in gaps:
            same = (key[gap:] == key[:-gap]) & (customer[gap:] == customer[:-gap]) & (day[gap:] - day[:-gap] <= sp.MAX_SPAN)
            pair, end, start = key[gap:][same], day[gap:][same], day[:-gap][same]
            present, index = np.unique(pair, return_inverse=True)
            names = [sums.names[k] for k in present.tolist()]
            derived = {s: np.array([sums.code(f"{m}{gap}{s}", dim) for m, dim in names], dtype=np.int64)[index]
                       for s in ("", ":e", ":s", ":d")}
            sums.spans(derived[""], end, start)
            sums.daily(derived[":e"], end)
            sums.daily(derived[":s"], start)
            sums.daily(derived[":d"][end == start], end[end == start])


def moves(customer: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (customer, time, +1 entry / -1 exit) of each customer's private-domain moves, in time order.

    As :func:`siyu.analytics.contributions.moves` per customer: an interval with an end not after its
    start connects nothing; at one instant beginnings come before ends.
    """
    valid = (end == NONE) | (end > start)
    ended = valid & (end != NONE)
    who = np.concatenate([customer[valid], customer[ended]])
    at = np.concatenate([start[valid], end[ended]])
    kind = np.concatenate([np.zeros(int(valid.sum()), np.int64), np.ones(int(ended.sum()), np.int64)])
    order = np.lexsort((kind, at, who))
    who, at, kind = who[order], at[order], kind[order]
    step = 1 - 2 * kind
    running = np.cumsum(step)
    first = np.ones(len(who), dtype=bool)
    first[1:] = who[1:] != who[:-1]
    group = np.cumsum(first) - 1
    before_group = (running - step)[first]  # the running count just before each customer's first point
    open_after = running - before_group[group]
    entry = (kind == 0) & (open_after - step == 0)
    exit_ = (kind == 1) & (open_after == 0)
    chosen = entry | exit_
    return who[chosen], at[chosen], step[chosen]


def slices(sorted_customers: np.ndarray, customers: np.ndarray) -> tuple[list[int], list[int]]:
    """Return where each of ``customers`` begins and ends in ``sorted_customers``."""
    return (np.searchsorted(sorted_customers, customers, "left").tolist(),
            np.searchsorted(sorted_customers, customers, "right").tolist())


def text(values: np.ndarray) -> list[str]:
    """Return the values as decimal strings."""
    return list(map(str, values.tolist()))


@dataclass
class Pieces:
    """A text column's pieces, sorted by customer: each piece's customer, and how to format pieces [a, b)."""

    owners: np.ndarray
    make: Callable[[int, int], list[str]]


def customer_rows(facts: FactColumns, first_days: np.ndarray, parts: dict[str, Pieces],
                  ) -> Iterator[tuple[list[tuple[Any, ...]], int]]:
    """Yield the live customers' ``health_customers`` rows ascending by id in storage form (first day as ISO
    text), in chunks, with the customers covered.

    ``parts`` maps each text column (active, paid, items, moves, now_in) to its pieces, in the
    column's order; a customer's pieces are joined with the column's separator, and only the pieces
    of one chunk of customers are formatted at a time. ``first_days`` holds each customer's first day
    ordinal (0: unknown).
    """
    separators = {"active": ",", "paid": ",", "items": ";", "moves": ",", "now_in": ","}
    iso = IsoDays()
    for begin in range(0, len(facts.customers), ROWS_CHUNK):
        index = begin + np.flatnonzero(facts.live[begin:begin + ROWS_CHUNK])
        ids = facts.customers[index]
        columns = []
        for name, pieces in parts.items():
            low, high = slices(pieces.owners, ids)
            first = low[0] if low else 0
            texts = pieces.make(first, high[-1]) if low and high[-1] > first else []
            join = separators[name].join
            columns.append([join(texts[a - first:b - first]) if b > a else "" for a, b in zip(low, high, strict=True)])
        known = first_days[index]
        firsts: list[str | None] = iso(np.where(known > 0, known, 1))
        firsts = [f if k else None for f, k in zip(firsts, known.tolist(), strict=True)]
        platforms = [facts.platforms[i] for i in index.tolist()]
        rows = list(zip(ids.tolist(), [True] * len(ids), firsts, platforms, *columns, strict=True))
        yield rows, min(ROWS_CHUNK, len(facts.customers) - begin)
