"""All SQL of segments except the compiled rules: definitions, memberships, watermarks, changed customers.

Staff scoping reuses the customers domain's visibility predicate (an active follow relation of the
staff member over any identity of the customer), added to the same statement as every read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.db.bulk import chunks
from siyu.domains.access import AuditEntry
from siyu.domains.customers import Customer
from siyu.domains.customers.service import visible_to as visible
from siyu.domains.events import Event
from siyu.domains.groups import GroupMembership
from siyu.domains.identity import Identity, Merge
from siyu.domains.orders import Order, OrderFact
from siyu.domains.scores import CustomerScore
from siyu.domains.segments.models import Segment, SegmentMembership, SegmentWatermark
from siyu.domains.staff import Ownership
from siyu.domains.tags import CustomerTag, Tag


def add(session: Session, segment: Segment) -> None:
    """Stage a segment and flush it so it has an id."""
    session.add(segment)
    session.flush()


def get(session: Session, segment_id: int) -> Segment | None:
    """Return one segment."""
    return session.get(Segment, segment_id)


def by_name(session: Session, name: str) -> Segment | None:
    """Return the segment called ``name``."""
    return session.scalar(select(Segment).where(Segment.name == name))


def all_segments(session: Session) -> list[Segment]:
    """Return every segment by id."""
    return list(session.scalars(select(Segment).order_by(Segment.id)))


def rule_now(session: Session, segment_id: int) -> dict[str, Any] | None:
    """Return a segment's stored rule (None: the segment is gone)."""
    return session.scalar(select(Segment.rule).where(Segment.id == segment_id))


def existing_ids(session: Session, ids: Iterable[int]) -> set[int]:
    """Return the ids among ``ids`` that name segments."""
    wanted = sorted(set(ids))
    return set(session.scalars(select(Segment.id).where(Segment.id.in_(wanted)))) if wanted else set()


def matching(session: Session, query: Select[tuple[int]], staff_scope: int | None) -> list[int]:
    """Return the ids a compiled rule selects (those the scoped staff member follows): one evaluation
    serves a preview's count and its sample, where COUNT and LIMIT would evaluate the rule twice."""
    return list(session.scalars(query.where(visible(staff_scope))))


def customers_newest_first(session: Session, ids: Sequence[int]) -> list[Customer]:
    """Return these customers, newest first."""
    return list(session.scalars(select(Customer).where(Customer.id.in_(list(ids))).order_by(Customer.id.desc())))


def evaluate(session: Session, query: Select[tuple[int]]) -> set[int]:
    """Return the customer ids a compiled rule selects."""
    return set(session.scalars(query))


def open_members(session: Session, segment_id: int, among: Sequence[int] | None = None) -> set[int]:
    """Return the customers currently in a segment (only those among ``among`` when given)."""
    query = select(SegmentMembership.customer_id).where(SegmentMembership.segment_id == segment_id,
                                                        SegmentMembership.exited_at.is_(None))
    if among is None:
        return set(session.scalars(query))
    found: set[int] = set()
    for part in chunks(sorted(among)):
        found.update(session.scalars(query.where(SegmentMembership.customer_id.in_(part))))
    return found


def enter(session: Session, segment_id: int, customer_ids: Iterable[int], at: datetime) -> None:
    """Open a stay for each customer."""
    rows = [{"segment_id": segment_id, "customer_id": c, "entered_at": at, "exited_at": None} for c in sorted(customer_ids)]
    for part in chunks(rows):
        session.execute(insert(SegmentMembership.__table__), list(part))


def exit_(session: Session, segment_id: int, customer_ids: Iterable[int], at: datetime) -> None:
    """Close the open stays of these customers."""
    for part in chunks(sorted(customer_ids)):
        session.execute(update(SegmentMembership)
                        .where(SegmentMembership.segment_id == segment_id, SegmentMembership.customer_id.in_(part),
                               SegmentMembership.exited_at.is_(None))
                        .values(exited_at=at).execution_options(synchronize_session=False))


def member_page(session: Session, segment_id: int, staff_scope: int | None, before_id: int | None,
                limit: int) -> list[tuple[Customer, datetime]]:
    """Return (customer, entered_at) of the current members the caller may see, newest customer first."""
    query = (select(Customer, SegmentMembership.entered_at)
             .join(SegmentMembership, SegmentMembership.customer_id == Customer.id)
             .where(SegmentMembership.segment_id == segment_id, SegmentMembership.exited_at.is_(None),
                    visible(staff_scope))
             .order_by(Customer.id.desc()).limit(limit))
    if before_id is not None:
        query = query.where(Customer.id < before_id)
    return [(c, at) for c, at in session.execute(query)]


def stays(session: Session, segment_id: int, staff_scope: int | None, customer_id: int | None, before_id: int | None,
          limit: int) -> list[SegmentMembership]:
    """Return stays (entered and exited) newest first, of one customer or of every customer the caller may see."""
    query = (select(SegmentMembership).join(Customer, Customer.id == SegmentMembership.customer_id)
             .where(SegmentMembership.segment_id == segment_id, visible(staff_scope))
             .order_by(SegmentMembership.id.desc()).limit(limit))
    if customer_id is not None:
        query = query.where(SegmentMembership.customer_id == customer_id)
    if before_id is not None:
        query = query.where(SegmentMembership.id < before_id)
    return list(session.scalars(query))


def set_state(session: Session, segment_id: int, **values: Any) -> None:
    """Write freshness columns of a segment."""
    session.execute(update(Segment).where(Segment.id == segment_id).values(**values)
                    .execution_options(synchronize_session=False))


def member_count(session: Session, segment_id: int) -> int:
    """Return how many customers are in a segment now."""
    return int(session.scalar(select(func.count()).select_from(SegmentMembership)
                              .where(SegmentMembership.segment_id == segment_id,
                                     SegmentMembership.exited_at.is_(None))) or 0)


# -- what changed since the last incremental refresh ------------------------------------------

WATERMARKED = {"events": Event, "order_facts": OrderFact, "ownerships": Ownership,
               "group_memberships": GroupMembership, "customer_tags": CustomerTag, "identities": Identity,
               "merges": Merge, "customers": Customer, "audit_log": AuditEntry}
# what people do to customers that no fact records: profile edits, merges, unmerges and splits
AUDITED = ("customer.update", "customer.merge", "customer.unmerge", "customer.split")


def watermarks(session: Session) -> dict[str, int]:
    """Return the stored watermarks (missing tables: never looked at)."""
    return {name: int(value) for name, value in session.execute(select(SegmentWatermark.name, SegmentWatermark.value))}


def tops(session: Session) -> dict[str, int]:
    """Return the highest id of each watermarked table now."""
    return {name: int(session.scalar(select(func.max(model.id))) or 0) for name, model in WATERMARKED.items()}


def save_watermarks(session: Session, marks: dict[str, int]) -> None:
    """Store watermarks (insert or replace)."""
    known = watermarks(session)
    for name, value in marks.items():
        if name in known:
            session.execute(update(SegmentWatermark).where(SegmentWatermark.name == name).values(value=value))
        else:
            session.add(SegmentWatermark(name=name, value=value))
    session.flush()


def _through_identity(model: Any, low: int, high: int) -> Select[tuple[int]]:
    return (select(Identity.customer_id).join(model, model.identity_id == Identity.id)
            .where(model.id > low, model.id <= high))


def changed_customers(session: Session, low: dict[str, int], high: dict[str, int], since: datetime | None,
                      watched_tags: Sequence[str]) -> set[int]:
    """Return the live customers whose facts, holds or merges changed between the watermarks.

    Removed holds of ``watched_tags`` (the tags some rule reads) after ``since`` count too: removing
    a hold closes its row instead of adding one, so no id watermark sees it.
    """
    def span(name: str) -> tuple[int, int]:
        return low.get(name, 0), high[name]

    queries: list[Select[Any]] = [_through_identity(m, *span(n)) for n, m in
                                  (("events", Event), ("ownerships", Ownership), ("group_memberships", GroupMembership))]
    a, b = span("order_facts")
    queries.append(select(Identity.customer_id).join(Order, Order.identity_id == Identity.id)
                   .join(OrderFact, OrderFact.order_pk == Order.id).where(OrderFact.id > a, OrderFact.id <= b))
    a, b = span("identities")
    queries.append(select(Identity.customer_id).where(Identity.id > a, Identity.id <= b))
    a, b = span("customer_tags")  # rule and interest holds are the refresh's own output, written before
    queries.append(select(CustomerTag.customer_id).where(CustomerTag.id > a, CustomerTag.id <= b,  # what reads them
                                                         CustomerTag.source.not_in(("rule", "interest"))))
    a, b = span("merges")
    queries += [select(Merge.survivor_id).where(Merge.id > a, Merge.id <= b),
                select(Merge.merged_id).where(Merge.id > a, Merge.id <= b)]
    a, b = span("customers")  # new rows: a split's new customer among them
    queries.append(select(Customer.id).where(Customer.id > a, Customer.id <= b))
    if since is not None and watched_tags:
        queries.append(select(CustomerTag.customer_id).join(Tag, Tag.id == CustomerTag.tag_id)
                       .where(Tag.name.in_(sorted(watched_tags)), CustomerTag.removed_at > since))
    found: set[int] = set()
    for query in queries:
        found.update(session.scalars(query))
    found |= _audited(session, *span("audit_log"))
    return _roots(session, found)


def _audited(session: Session, low: int, high: int) -> set[int]:
    """Return the customers people changed (``AUDITED``) between the watermarks, and an unmerge's survivor."""
    targets = {int(t) for t in session.scalars(
        select(AuditEntry.target_id).where(AuditEntry.id > low, AuditEntry.id <= high, AuditEntry.target_type == "customer",
                                           AuditEntry.action.in_(AUDITED), AuditEntry.target_id.is_not(None)))
               if t.isdigit()}
    if targets:
        targets |= set(session.scalars(select(Merge.survivor_id).where(Merge.merged_id.in_(sorted(targets)))))
    return targets


def _roots(session: Session, ids: set[int]) -> set[int]:
    """Return the customers themselves and, for tombstones, their survivors (a tombstone's stays must end)."""
    out = set(ids)
    for part in chunks(sorted(ids)):
        out.update(r for r in session.scalars(select(Customer.merged_into_id).where(Customer.id.in_(part),
                                                                                   Customer.merged_into_id.is_not(None))))
    return out


def scores_computed_at(session: Session) -> datetime | None:
    """Return when the scores were last written back."""
    return session.scalar(select(func.max(CustomerScore.computed_at)))


def stays_after(session: Session, after_id: int, limit: int) -> list[SegmentMembership]:
    """Return stays with an id above ``after_id``, in id order."""
    return list(session.scalars(select(SegmentMembership).where(SegmentMembership.id > after_id)
                                .order_by(SegmentMembership.id).limit(limit)))


def top_stay_id(session: Session) -> int:
    """Return the highest stay id (0 when none)."""
    return session.scalar(select(func.max(SegmentMembership.id))) or 0
