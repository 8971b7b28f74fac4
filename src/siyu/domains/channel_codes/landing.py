"""A channel code's landing link: the stable address printed as its QR code on posters and parcel inserts.

The printed QR encodes ``{SIYU_PUBLIC_URL}/c/{state}``, never the WeCom link itself. A scan opens the
landing link, which counts the scan in the code's daily statistics (brand calendar) and sends the
scanner on to the code's ``landing_url``: the WeCom 联系我 / 多人活码 link that adds the customer to a
staff member. So a poster already printed keeps working when the WeCom link changes or expires, or
when the code is re-pointed to other staff: only ``landing_url`` is edited. Scans against contacts
added through the code's ``state`` give the code's conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.channel_codes import repository as repo
from siyu.domains.channel_codes.models import ChannelCode
from siyu.errors import NotFound
from siyu.kit.time import ensure_utc, local_day, utcnow


@dataclass(frozen=True, slots=True)
class Scan:
    """Where a scan of a landing link goes: the code's name, and its target (None: not linked yet)."""

    code_id: int
    name: str
    target: str | None


def landing_link(settings: Settings, code: ChannelCode) -> str:
    """Return the address a code's QR encodes."""
    return f"{settings.public_url}/c/{code.state}"


def record_scan(session: Session, settings: Settings, state: str, now: datetime | None = None) -> Scan:
    """Count a scan of the landing link of the active code with ``state``; raise NotFound otherwise."""
    code = repo.by_state(session, state) if isinstance(state, str) and len(state) <= 30 else None
    if code is None or not code.active:
        raise NotFound("this code is not in use", code="unknown_state")
    repo.bump_scans(session, code.id, local_day(ensure_utc(now) if now else utcnow(), settings.tz))
    return Scan(code.id, code.name, code.landing_url)


def scans_by_day(session: Session, code_id: int, first: date, last: date) -> list[tuple[date, int]]:
    """Return (day, scans) for every day of [first, last], zeros included."""
    stored = repo.scans(session, code_id, first, last)
    return [(d, stored.get(d, 0)) for d in (first + timedelta(days=n) for n in range((last - first).days + 1))]
