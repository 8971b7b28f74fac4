"""Per-item metrics: sent, delivered, clicked, converted, by variant, by AIPL stage or by segment.

Definitions (docs/content.md#metrics; the tests compute them by hand):

- **sent**: sends recorded for the item (one per outbox message that carried it).
- **delivered**: those sends whose outbox message has status ``sent`` (handed to the channel).
- **clicked**: sends with at least one click on their tracked link (several clicks count once).
- **converted**: sends whose customer paid an order from the send until ``window_days`` after it
  (after the first click, when the send was clicked later); ``revenue_fen`` sums those orders'
  amounts net of refunds, each order once per send.
- Rows group sends by ``variant`` (name, ``-`` for the item itself), ``stage`` (the customer's AIPL
  stage when sent) or ``segment`` (membership of the given segments now; a customer may be in several).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from siyu.domains.content import repository as repo
from siyu.domains.content.models import ContentSend
from siyu.domains.content.schemas import MetricRow, MetricsOut
from siyu.errors import ValidationFailed

BY = ("variant", "stage", "segment")


class _Tally:
    def __init__(self) -> None:
        self.sent = self.delivered = self.clicked = self.converted = self.revenue = 0

    def row(self, key: str) -> MetricRow:
        return MetricRow(key=key, sent=self.sent, delivered=self.delivered, clicked=self.clicked,
                         converted=self.converted, revenue_fen=self.revenue,
                         click_rate=round(self.clicked / self.sent, 4) if self.sent else None,
                         conversion_rate=round(self.converted / self.sent, 4) if self.sent else None)


def item_metrics(session: Session, content_id: int, *, window_days: int = 7, by: str = "variant",
                 segments: Mapping[str, set[int]] | None = None) -> MetricsOut:
    """Return an item's totals and rows grouped ``by`` variant, stage or segment."""
    if by not in BY:
        raise ValidationFailed(f"by must be one of {', '.join(BY)}", code="invalid_metrics_by")
    if not 1 <= window_days <= 90:
        raise ValidationFailed("window_days must be between 1 and 90", code="invalid_window")
    sends = repo.sends(session, [content_id])
    outcome = _outcomes(session, content_id, sends, timedelta(days=window_days))
    names = {v.id: v.name for v in repo.variants(session, [content_id])}
    keys = _grouping(by, names, segments or {})
    total, rows = _Tally(), defaultdict(_Tally)
    for s in sends:
        tallies = [total, *(rows[k] for k in keys(s))]
        delivered, clicked, converted, revenue = outcome[s.send_key]
        for t in tallies:
            t.sent += 1
            t.delivered += delivered
            t.clicked += clicked
            t.converted += converted
            t.revenue += revenue
    return MetricsOut(content_id=content_id, window_days=window_days, by=by, total=total.row("total"),
                      rows=[rows[k].row(k) for k in sorted(rows)])


def _grouping(by: str, names: Mapping[int, str], segments: Mapping[str, set[int]]) -> Callable[[ContentSend], list[str]]:
    if by == "variant":
        return lambda s: [names.get(s.variant_id, "-") if s.variant_id else "-"]
    if by == "stage":
        return lambda s: [s.stage]
    return lambda s: [name for name, members in segments.items() if s.customer_id in members]


def _outcomes(session: Session, content_id: int, sends: Sequence[ContentSend],
              window: timedelta) -> dict[str, tuple[int, int, int, int]]:
    if not sends:
        return {}
    statuses = repo.outbox_statuses(session, [s.send_key for s in sends])
    first_click: dict[str, datetime] = {}
    for c in repo.clicks(session, [content_id]):
        if c.send_key and (c.send_key not in first_click or c.clicked_at < first_click[c.send_key]):
            first_click[c.send_key] = c.clicked_at
    paid: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for customer_id, paid_at, net in repo.paid_orders(session, [s.customer_id for s in sends],
                                                      min(s.sent_at for s in sends)):
        paid[customer_id].append((paid_at, net))
    out: dict[str, tuple[int, int, int, int]] = {}
    for s in sends:
        end = first_click.get(s.send_key, s.sent_at) + window
        orders = [net for at, net in paid.get(s.customer_id, []) if s.sent_at <= at < end]
        out[s.send_key] = (int(statuses.get(s.send_key) == "sent"), int(s.send_key in first_click),
                           int(bool(orders)), sum(orders))
    return out

