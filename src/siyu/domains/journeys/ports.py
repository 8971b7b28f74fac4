"""Ports a journey's actions reach the outside through: issuing a coupon (the loyalty capability fills it)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from siyu.domains.journeys import repository as repo
from siyu.kit.time import utcnow


class CouponIssuer(Protocol):
    """Issue one coupon to one customer, at most once per idempotency key."""

    def issue(self, session: Session, *, idempotency_key: str, customer_id: int, coupon: str) -> str:
        """Issue ``coupon`` (a coupon template's code) and return a reference to what was issued."""
        ...


class RecordOnlyCouponIssuer:
    """Records the coupon a journey asked for (journey_recorded_coupons) and issues nothing.

    Until the loyalty capability exists there is no coupon ledger to write to; this adapter keeps
    the request, idempotent by key, so journeys can be built and tested end to end and the loyalty
    issuer can later replay what was asked.
    """

    def issue(self, session: Session, *, idempotency_key: str, customer_id: int, coupon: str) -> str:
        """Record the request; return ``recorded:<key>``."""
        repo.record_coupon(session, {"idempotency_key": idempotency_key, "customer_id": customer_id, "coupon": coupon,
                                     "created_at": utcnow()})
        return f"recorded:{idempotency_key}"
