"""Orders: a header with its current state, line items, and the append-only state history.

An order's lines (``order_items``) come from its first fact that carries any; lines that a later fact
names (the items of a partial refund, of a split delivery) are kept with that fact (``order_fact_items``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, JsonDoc, UTCDateTime


class Order(Base):
    """One order; ``status``, ``refunded_fen`` and ``updated_at`` summarise its facts."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_identity_placed", "identity_id", "placed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128), unique=True)
    identity_id: Mapped[int] = mapped_column(BigId, ForeignKey("identities.id"))
    channel: Mapped[str | None] = mapped_column(String(64))
    store: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(24))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    properties: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class LineColumns:
    """The columns of a line, shared by an order's lines and the lines a later fact names."""

    sku: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class OrderItem(LineColumns, Base):
    """A line of an order."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), index=True)


class OrderFact(Base):
    """One state of one order (created, paid, delivered, refunded …); idempotent by its key."""

    __tablename__ = "order_facts"
    __table_args__ = (UniqueConstraint("order_pk", "status", "fact_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    status: Mapped[str] = mapped_column(String(24))
    fact_key: Mapped[str] = mapped_column(String(128), default="")  # e.g. refund_id for partial refunds
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # order amount, or the refunded amount
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    properties: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class OrderFactItem(LineColumns, Base):
    """A line named by one later fact of an order (a refunded item, a delivered part), as it was sent."""

    __tablename__ = "order_fact_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fact_pk: Mapped[int] = mapped_column(BigId, ForeignKey("order_facts.id"), index=True)
