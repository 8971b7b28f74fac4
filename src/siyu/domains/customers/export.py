"""CSV export of a filtered customer listing: masked unless the principal may read PII, always audited.

The export walks the same scoped, keyset-paged listing as the list page (so a staff member could
only ever export the customers they follow), in pages of EXPORT_PAGE, up to EXPORT_LIMIT rows.
The audit entry records who exported, how many rows, whether names were unmasked, and which filters
were used (their names only: a searched phone number is itself personal data).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu.domains.access import Principal, audit
from siyu.domains.customers import repository as repo
from siyu.domains.customers.models import Customer
from siyu.domains.customers.schemas import CustomerFilter
from siyu.errors import Forbidden
from siyu.kit.crypto import PiiVault
from siyu.kit.time import ensure_utc

EXPORT_LIMIT = 100_000
EXPORT_PAGE = 1_000
COLUMNS = ("id", "name", "gender", "birthday", "region", "city", "source_platform", "source_channel_code_id",
           "first_seen_at")


def _row(c: Customer, vault: PiiVault, unmasked: bool, tz: ZoneInfo) -> list[str]:
    name = vault.decrypt(c.name_enc) if unmasked and c.name_enc else (c.name_masked or "")
    return [str(c.id), name, c.gender, c.birthday.isoformat() if c.birthday else "", c.region or "", c.city or "",
            c.source_platform or "", str(c.source_channel_code_id or ""),
            ensure_utc(c.first_seen_at).astimezone(tz).isoformat(timespec="seconds")]


def _customers(session: Session, principal: Principal, flt: CustomerFilter, limit: int) -> Iterable[Customer]:
    before: int | None = None
    left = limit
    while left > 0:
        rows = repo.list_page(session, flt, staff_scope=principal.scoped_staff_id, before_id=before,
                              limit=min(EXPORT_PAGE, left))
        yield from rows
        if len(rows) < min(EXPORT_PAGE, left):
            return
        left -= len(rows)
        before = rows[-1].id


def export_csv(session: Session, vault: PiiVault, principal: Principal, flt: CustomerFilter, *, tz: ZoneInfo,
               filters_used: Iterable[str] = (), limit: int = EXPORT_LIMIT, request_id: str | None = None) -> str:
    """Return the filtered customers as CSV text (newest first) and audit the export."""
    if principal.role == "staff":
        raise Forbidden("staff users cannot export customers", code="forbidden_role")
    unmasked = principal.can_read_pii
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for customer in _customers(session, principal, flt, limit):
        writer.writerow(_row(customer, vault, unmasked, tz))
        count += 1
    audit(session, principal.actor, "customer.export", "customer", None,
          {"rows": count, "unmasked": unmasked, "filters": sorted(filters_used), "limit": limit}, request_id)
    return out.getvalue()
