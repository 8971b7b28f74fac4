"""The service domain's working-time helpers: ``siyu.kit.working_hours``, the format channel codes use.

Working hours are ``{"mon": [["09:00", "18:00"]], …}`` read in the brand's time zone (an empty mapping
means always open; once any day is given, days left out are closed); the check and the arithmetic
(working seconds between two instants, the instant N working seconds after another) live in the kit,
so channel codes and service share one implementation without one domain importing the other.
"""

from __future__ import annotations

from siyu.kit.working_hours import add_working, check_working_hours, working_seconds

__all__ = ["add_working", "check_working_hours", "working_seconds"]
