"""Daily summaries of the private domain's health, kept by :mod:`siyu.analytics.refresh`.

Small tables the dashboard reads instead of the facts (docs/architecture.md, "daily summaries"):

- ``health_daily``: one value per (metric, brand day, dimension), e.g. new contacts of one channel
  code on one day; additive over days.
- ``health_spans``: counts of pairs of one customer's consecutive items (active days, paid orders,
  days they added or deleted a staff member, joined or left a group, entered or left the private
  domain) by (metric, dimension, first day, last day); they turn "distinct customers in a period" into
  sums over days (see :mod:`siyu.analytics.spans`).
- ``health_customers``: what each customer contributed at the last refresh (active days, paid
  orders per day, first day, platform, item lists, private-domain moves, what they count in now), so
  a changed customer's old contribution can be taken back exactly before the new one is added.
- ``health_moves``: the days each customer entered or was lost from the private domain (what the
  customers list's entered and lost filters read).
- ``health_state``: watermarks of the facts already summarised, and running totals (customers
  followed now per staff member, members now per group).
- ``health_refresh_lease``: who refreshes now (one row per job name), so several server processes
  refreshing on a schedule take turns instead of queueing (:mod:`siyu.analytics.lease`).

The module also declares indexes on the time columns of follow relations and group stays, which
the refresh uses to recompute one day.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.db.base import Base, BigId, UTCDateTime
from siyu.domains.groups.models import GroupMembership
from siyu.domains.staff.models import Ownership


class HealthDaily(Base):
    """The value of one metric on one brand day for one dimension ('' for the whole brand)."""

    __tablename__ = "health_daily"

    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dim: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class HealthSpan(Base):
    """How many pairs of one customer's items (``metric``, for ``dim``) lie on ``start_day`` and ``end_day``."""

    __tablename__ = "health_spans"

    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    dim: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    end_day: Mapped[date] = mapped_column(Date, primary_key=True)
    start_day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class HealthCustomer(Base):
    """One customer's contribution to the summaries at the last refresh."""

    __tablename__ = "health_customers"

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    first_day: Mapped[date | None] = mapped_column(Date)
    platform: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[str] = mapped_column(Text, default="")  # active days as day ordinals, ascending
    paid: Mapped[str] = mapped_column(Text, default="")  # paid orders: ordinal:count, ascending
    items: Mapped[str] = mapped_column(Text, default="")  # metric/dim:ordinal,ordinal;… (spans.Contribution)
    moves: Mapped[str] = mapped_column(Text, default="")  # private-domain entries (ordinal) and exits (-ordinal)
    now_in: Mapped[str] = mapped_column(Text, default="")  # state names counted now: followed:<staff>,members:<group>


class HealthMove(Base):
    """A day a customer entered (``in``) or was lost from (``out``) the private domain.

    The customers list's ``entered`` and ``lost`` filters read these rows (through
    :class:`siyu.analytics.moves.HealthMoves`): finding the customers lost in a period from the facts
    means checking every connection that ended then against all the customer's others, which cost
    0.1-0.2 s a page on the 1M store; here it is an index range.
    """

    __tablename__ = "health_moves"
    # (customer, kind, day): a list's probe tests one customer (given only (customer_id), SQLite preferred
    # the primary key's (kind, day) range and read a whole period's moves per customer probed)
    __table_args__ = (Index("ix_health_moves_customer_kind_day", "customer_id", "kind", "day"),)

    kind: Mapped[str] = mapped_column(String(3), primary_key=True)  # in | out
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


class HealthState(Base):
    """A named number: a watermark (last fact id summarised) or a running total."""

    __tablename__ = "health_state"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class RefreshLease(Base):
    """A job's lease: ``holder`` runs it until ``expires_at`` (a crashed holder's lease simply runs out)."""

    __tablename__ = "health_refresh_lease"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


SUMMARY_TABLES = ("health_daily", "health_spans", "health_customers", "health_moves", "health_state")  # from the facts

# Day recomputation reads follow relations and group stays by time alone. The end-time indexes are
# partial (ended rows only): as plain indexes, SQLite (no statistics) chose them for every
# "still active" (removed_at IS NULL) query and read all 1.5M active relations of the 1M store per
# page; a range on the end time implies IS NOT NULL, so the day recomputation still uses them.
_ENDED_OWNERSHIP = text("removed_at IS NOT NULL")
_ENDED_STAY = text("left_at IS NOT NULL")
Index("ix_ownerships_added_at", Ownership.added_at)
Index("ix_ownerships_removed_at", Ownership.removed_at, sqlite_where=_ENDED_OWNERSHIP, postgresql_where=_ENDED_OWNERSHIP)
Index("ix_group_memberships_joined_at", GroupMembership.joined_at)
Index("ix_group_memberships_left_at", GroupMembership.left_at, sqlite_where=_ENDED_STAY, postgresql_where=_ENDED_STAY)
