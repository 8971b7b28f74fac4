"""CSV export of the customer list: filtered, masked unless the user may read PII, audited."""

from __future__ import annotations

import csv
import io

from sqlalchemy import Engine, select

from siyu.db.engine import unit_of_work
from siyu.domains.access.models import AuditEntry
from siyu.domains.access import Principal
from siyu.domains.customers import export
from siyu.domains.customers.export import COLUMNS
from siyu.domains.customers.schemas import CustomerFilter

ADMIN = Principal(actor="user:admin", role="admin", scopes=frozenset({"admin"}), can_read_pii=True)


def _csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # spreadsheet programs need the BOM to read UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def _exports(db_engine: Engine) -> list[AuditEntry]:
    with unit_of_work(db_engine, write=False) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "customer.export")))


def test_admin_export_has_full_names_and_is_audited(console, brand, db_engine: Engine) -> None:
    client = console("admin")
    client.page("/customers")
    res = client.submit("/customers/export", {"owner": "alice"})
    assert res.status_code == 200 and res.headers["content-type"] == "text/csv; charset=utf-8"
    assert res.headers["content-disposition"].startswith('attachment; filename="customers-')
    rows = _csv(res.text)
    assert rows[0] == list(COLUMNS)
    assert [(r[0], r[1]) for r in rows[1:]] == [(str(brand.xss), "<script>alert(1)</script>"), (str(brand.zhang), "张三")]
    assert rows[2][6:9] == ["store", str(brand.code), "2026-01-01T08:00:00+08:00"]
    [entry] = _exports(db_engine)
    assert (entry.actor, entry.detail) == ("user:admin", {"rows": 2, "unmasked": True, "filters": ["owner"],
                                                          "limit": 100_000})


def test_operator_export_is_masked(console, brand) -> None:
    client = console("ops")
    client.page("/customers")
    rows = _csv(client.submit("/customers/export", {"q": "13812345678"}).text)
    assert [(r[0], r[1]) for r in rows[1:]] == [(str(brand.zhang), "张*")]


def test_export_is_refused_to_staff_and_without_csrf(console) -> None:
    staff = console("alice_u")
    staff.page("/customers")
    assert staff.submit("/customers/export", {}).status_code == 403
    assert 'action="/customers/export"' not in staff.get("/customers").text
    ops = console("ops")
    assert ops.post("/customers/export", data={}).status_code == 403


def test_export_with_a_bad_filter_shows_the_error(console) -> None:
    client = console("ops")
    client.page("/customers")
    res = client.submit("/customers/export", {"added_to": "tomorrow"})
    assert res.status_code == 422 and 'data-field="added_to">' in res.text


def test_export_walks_every_page_up_to_the_limit(db_engine: Engine, vault, brand, monkeypatch, settings) -> None:
    monkeypatch.setattr(export, "EXPORT_PAGE", 2)
    with unit_of_work(db_engine) as s:
        everyone = export.export_csv(s, vault, ADMIN, CustomerFilter(), tz=settings.tz)
        capped = export.export_csv(s, vault, ADMIN, CustomerFilter(), tz=settings.tz, limit=2)
    assert [r[0] for r in _csv("\ufeff" + everyone)[1:]] == [str(brand.xss), str(brand.li), str(brand.zhang)]
    assert [r[0] for r in _csv("\ufeff" + capped)[1:]] == [str(brand.xss), str(brand.li)]
