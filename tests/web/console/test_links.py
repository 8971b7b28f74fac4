"""The dashboard's per-day links are the customers list filtered to exactly that day's activity."""

from __future__ import annotations

from datetime import date, timedelta

from siyu.web.console import links


def test_each_day_links_the_day_s_activity_and_leaves_days_without_customers_unlinked() -> None:
    days = [date(2025, 12, 30) + timedelta(days=i) for i in range(5)]
    counts = {days[0]: 3, days[2]: 1, days[3]: 0}
    for kind in ("entered", "contact_added", "group left & more"):  # a kind that needs quoting is quoted
        got = links.each_day(kind, days, counts)
        assert got == [links.activity(kind, days[0], days[0]), None, links.activity(kind, days[2], days[2]), None,
                       None]
    assert links.each_day("lost", days[:1], counts) == ["/customers?activity=lost&activity_from=2025-12-30"
                                                        "&activity_to=2025-12-30"]
