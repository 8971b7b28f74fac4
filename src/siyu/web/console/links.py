"""Links from the dashboard to the customers list, filtered to exactly the customers behind a figure.

Every link names an activity of the customers list (:mod:`siyu.domains.customers.activity`) over whole
days of the brand's calendar, or one of the list's plain filters (first seen, owner now, group now).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from urllib.parse import urlencode

from siyu.domains.customers.schemas import NONE


def customers(**params: object) -> str:
    """Return the customers list's URL with ``params`` (empty values left out)."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"/customers?{urlencode(kept)}" if kept else "/customers"


def activity(kind: str, first: date | None, last: date, **narrowing: object) -> str:
    """Return the list of customers who did ``kind`` on days [first, last] (``staff``, ``code``, ``group``)."""
    return customers(activity=kind, activity_from=first.isoformat() if first else None, activity_to=last.isoformat(),
                     **{f"activity_{k}": v for k, v in narrowing.items()})


def each_day(kind: str, days: Iterable[date], counts: Mapping[date, int]) -> list[str | None]:
    """Return, per day, ``activity(kind, day, day)``, or None on a day without any customer in ``counts``.

    The query is encoded once per kind, not once per day: a 366-day dashboard draws ~2,600 such links.
    """
    head = customers(activity=kind)
    return [f"{head}&activity_from={d.isoformat()}&activity_to={d.isoformat()}" if counts.get(d) else None
            for d in days]


def first_seen(first: date, last: date, *, platform: str | None = None, any_platform: bool = True) -> str:
    """Return the list of customers first seen on days [first, last] (from one platform, or none recorded)."""
    source = None if any_platform else (platform or NONE)
    return customers(source=source, added_from=first.isoformat(), added_to=last.isoformat())


def code(code_id: int | None) -> str:
    """Return the value naming a channel code in an activity filter (``-``: added without one)."""
    return NONE if code_id is None else str(code_id)
