"""Service (客服): auto-reply rules, the FAQ, hand-off and the first-response SLA.

The worker calls ``process_new`` and ``alert_breaches``; the faces call ``service`` and ``sla``.
"""

from siyu.domains.service.processing import Outcome, alert_breaches, pending, process_new, reset_watermark
from siyu.domains.service.sla import StaffSla, daily_report

__all__ = ["Outcome", "StaffSla", "alert_breaches", "daily_report", "pending", "process_new", "reset_watermark"]
