"""Every analysis page: staff users are refused (403), and bad input is refused beside its field (422)
with nothing computed, on SQLite and PostgreSQL. (The RFM page's messages are checked in its own tests.)"""

from __future__ import annotations

from typing import Any

import pytest
from web.console.test_analytics_rfm_page import errors

PAGES = ("rfm", "aipl", "lifecycle", "retention")
AS_OF = "as_of=2026-01-31"
RETENTION = "from=2025-10-01&to=2026-01-31"


@pytest.mark.parametrize("page", PAGES)
def test_staff_users_are_refused(console: Any, page: str) -> None:
    for user in ("alice_u", "bob_u"):
        client = console(user)
        assert client.get(f"/analytics/{page}").status_code == 403
        assert client.get(f"/analytics/{page}/result").status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_users_are_sent_to_log_in(console: Any, page: str) -> None:
    res = console(None).get(f"/analytics/{page}", follow_redirects=False)
    assert res.status_code in (302, 303) and res.headers["location"].startswith("/login")


@pytest.mark.parametrize(("page", "query", "field"), [
    ("aipl", f"{AS_OF}&window_days=4000", "window_days"),
    ("aipl", "as_of=2026-1-1", "as_of"),
    ("aipl", f"{AS_OF}&compare_to=2026-02-01", "compare_to"),
    ("aipl", f"{AS_OF}&compare_to=x", "compare_to"),
    ("lifecycle", "as_of=31/01/2026", "as_of"),
    ("lifecycle", f"{AS_OF}&periods=0", "periods"),
    ("lifecycle", f"{AS_OF}&periods=401", "periods"),
    ("lifecycle", f"{AS_OF}&unit=year", "unit"),
    ("lifecycle", f"{AS_OF}&window_days=-3", "window_days"),
    ("retention", "from=2026-02-01&to=2026-01-31", "from"),
    ("retention", "from=2025-10-01&to=2999-01-01", "to"),
    ("retention", f"{RETENTION}&unit=year", "unit"),
    ("retention", f"{RETENTION}&periods=500", "periods"),
    ("retention", f"{RETENTION}&cohort_by=joined&mode=recurring", "mode"),
    ("retention", f"{RETENTION}&activity=events", "events"),
    ("retention", f"{RETENTION}&activity=events&events=content_viewed;x", "events"),
])
def test_bad_input_is_refused_beside_its_field(console: Any, page: str, query: str, field: str) -> None:
    client = console("ana")
    for path in (f"/analytics/{page}", f"/analytics/{page}/result"):
        res = client.get(f"{path}?{query}")
        assert res.status_code == 422 and field in errors(res.text), errors(res.text)
        assert 'data-testid="computed"' not in res.text and 'data-testid="computing"' not in res.text
