"""Journeys (SOP): timed, conditional sequences per customer, run durably by the scheduler (docs/journeys.md)."""

from siyu.domains.journeys.enrolling import enrol
from siyu.domains.journeys.ports import CouponIssuer, RecordOnlyCouponIssuer

__all__ = ["CouponIssuer", "RecordOnlyCouponIssuer", "enrol"]
