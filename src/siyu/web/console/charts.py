"""Chart data for ``/static/console.js``: the page embeds it as JSON, the script draws it with ECharts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

ADDED = "#0a7d55"
LOST = "#b42318"
NET = "#3b82f6"
SCANS = "#c4b5fd"  # scans of a code's landing link (bars behind the contact lines)

# (label, "line" | "bar", colour, one value per day[, one link per day (None: not clickable)
#  [, how many customers each link lists, when that is not the value itself (a day's GMV)]])
Series = tuple[Any, ...]


def daily_chart(days: Sequence[date], series: Sequence[Series]) -> dict[str, Any]:
    """Return a day-by-day chart; a point with a link opens it when clicked."""
    out = []
    for name, kind, color, values, *rest in series:
        item: dict[str, Any] = {"name": name, "type": kind, "color": color, "data": list(values)}
        if rest and rest[0] is not None:
            item["links"] = list(rest[0])
            item["people"] = list(rest[1]) if len(rest) > 1 else list(values)
        out.append(item)
    return {"days": [d.isoformat() for d in days], "series": out}
