"""Per-customer scores written back from the analytical engine (DESIGN.md: "bulk write-back").

One row per live customer, all describing the customer as of ``as_of`` (the end of the as-of day in
the brand's time zone: facts before that instant count): the RFM scores and segment, the AIPL stage,
the lifecycle tier, the CLV model's outputs, the churn warning and the purchase-intent signals.
Segments, staff work lists and journeys read them here, in the operational store, instead of running
an analysis per question. ``computed_at`` says when the write-back ran; ``score_runs`` records every
write-back (freshness, the fitted parameters, timings). Definitions: docs/clv.md.

The column names are a contract: the segment rule language reads them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class CustomerScore(Base):
    """What the analyses say about one customer as of ``as_of``."""

    __tablename__ = "customer_scores"
    __table_args__ = (
        Index("ix_customer_scores_rfm_segment", "rfm_segment"),
        Index("ix_customer_scores_aipl_stage", "aipl_stage"),
        Index("ix_customer_scores_lifecycle_tier", "lifecycle_tier"),
        # the staff work lists read the warned / intent customers only, largest value first
        Index("ix_customer_scores_at_risk", "value_at_stake", sqlite_where=text("value_at_stake IS NOT NULL"),
              postgresql_where=text("value_at_stake IS NOT NULL")),
        Index("ix_customer_scores_intent", "intent_value", sqlite_where=text("intent_value IS NOT NULL"),
              postgresql_where=text("intent_value IS NOT NULL")),
    )

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rfm_r: Mapped[int | None] = mapped_column(SmallInteger)  # 1..5 (5 = most recent)
    rfm_f: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_m: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_segment: Mapped[str | None] = mapped_column(String(32))  # a code of analytics.rfm.SEGMENTS; NULL: no purchase in the window
    aipl_stage: Mapped[str | None] = mapped_column(String(16))  # awareness | interest | purchase | loyalty; NULL: none
    lifecycle_tier: Mapped[str | None] = mapped_column(String(16))  # a tier code of analytics.lifecycle
    clv: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # expected spend (yuan) over the CLV horizon
    expected_purchases: Mapped[float | None] = mapped_column(Float)  # BG/NBD, over the CLV horizon
    p_alive: Mapped[float | None] = mapped_column(Float)  # BG/NBD P(alive) as of ``as_of``
    expected_spend: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # Gamma-Gamma mean purchase value (yuan)
    repeat_purchases: Mapped[int | None] = mapped_column(Integer)  # purchase days after the first (BG/NBD x)
    days_since_last: Mapped[int | None] = mapped_column(Integer)  # days from the last purchase day to the as-of day
    usual_gap_days: Mapped[float | None] = mapped_column(Float)  # mean days between purchase days; NULL below 1 repeat
    p_alive_prev: Mapped[float | None] = mapped_column(Float)  # P(alive) as of the comparison day, same fit
    alive_falling: Mapped[bool] = mapped_column(Boolean, default=False)  # churn warning: P(alive) fell enough
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)  # churn warning: silent well past the usual gap
    value_at_stake: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # warned only: P(alive) drop × CLV (yuan)
    intent_days: Mapped[int] = mapped_column(SmallInteger, default=0)  # days with an interest signal in the intent window
    open_order: Mapped[bool] = mapped_column(Boolean, default=False)  # an order placed in the window and not paid
    last_signal_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the latest intent signal in the window
    intent_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # high intent only: strength × expected spend


class ScoreRun(Base):
    """One write-back of the scores: when, as of which day, how it went and what the models were."""

    __tablename__ = "score_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    trigger: Mapped[str] = mapped_column(String(16))  # cli | schedule | api
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed
    engine: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customers: Mapped[int] = mapped_column(Integer, default=0)  # rows written
    seconds: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)  # parameters, counts, step timings
    error: Mapped[str | None] = mapped_column(String(500))
