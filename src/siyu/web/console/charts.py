"""Chart data for ``/static/console.js``: the page embeds it as JSON, the script draws it with ECharts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

ADDED = "#0a7d55"
LOST = "#b42318"
NET = "#3b82f6"
SCANS = "#c4b5fd"  # scans of a code's landing link (bars behind the contact lines)


def daily_chart(days: Sequence[date], series: Sequence[tuple[str, str, str, Sequence[int]]]) -> dict[str, Any]:
    """Return a day-by-day chart: ``series`` are (label, "line" | "bar", colour, one value per day)."""
    return {"days": [d.isoformat() for d in days],
            "series": [{"name": name, "type": kind, "color": color, "data": list(values)}
                       for name, kind, color, values in series]}
