"""Goal conversion against the holdout: Wilson intervals per arm and Newcombe's for their difference.

Newcombe's hybrid score interval (method 10 of Newcombe, 1998) combines the two Wilson intervals; it
keeps its coverage for small arms and rates near 0 or 1, where the Wald interval of the difference
collapses, which is exactly the case of a 10% holdout of a small journey.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, total: int, confidence: float = 0.95) -> Interval | None:
    """Return the Wilson score interval of a proportion (None when there is no trial)."""
    if total == 0:
        return None
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def newcombe(s1: int, n1: int, s2: int, n2: int, confidence: float = 0.95) -> Interval | None:
    """Return Newcombe's interval of p1 - p2 (None when an arm is empty)."""
    a, b = wilson(s1, n1, confidence), wilson(s2, n2, confidence)
    if a is None or b is None:
        return None
    p1, p2 = s1 / n1, s2 / n2
    low = (p1 - p2) - math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)
    high = (p1 - p2) + math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)
    return Interval(low, high)
