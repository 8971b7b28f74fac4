"""SQL of the content library: items, variants, collections, links, sends, clicks and what metrics read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from siyu.db.bulk import chunks, dialect_insert
from siyu.domains.content.models import (ContentClick, ContentCollection, ContentCollectionItem, ContentItem,
                                         ContentLink, ContentSend, ContentVariant)
from siyu.domains.customers import Customer
from siyu.domains.identity import Identity
from siyu.domains.orders import Order
from siyu.domains.outbox import OutboxMessage
from siyu.domains.scores import CustomerScore


def add(session: Session, row: Any) -> Any:
    """Insert one row and flush it (its id is then known)."""
    session.add(row)
    session.flush()
    return row


def item(session: Session, content_id: int) -> ContentItem | None:
    """Return one item."""
    return session.get(ContentItem, content_id)


def items(session: Session, *, kind: str | None, status: str | None, topic: str | None, q: str | None,
          ids: Sequence[int] | None = None, limit: int = 200) -> list[ContentItem]:
    """Return items newest first, filtered (the topic filter is applied by the caller on the JSON list)."""
    query = select(ContentItem).order_by(ContentItem.id.desc())
    if kind:
        query = query.where(ContentItem.kind == kind)
    if status:
        query = query.where(ContentItem.status == status)
    if q:
        query = query.where(ContentItem.title.contains(q, autoescape=True))
    if ids is not None:
        query = query.where(ContentItem.id.in_(list(ids)))
    rows = list(session.scalars(query.limit(limit if topic is None else 5_000)))
    return [r for r in rows if topic is None or topic in (r.topics or [])][:limit]


def variants(session: Session, content_ids: Iterable[int]) -> list[ContentVariant]:
    """Return the variants of these items by item, then name."""
    ids = list(content_ids)
    if not ids:
        return []
    return list(session.scalars(select(ContentVariant).where(ContentVariant.content_id.in_(ids))
                                .order_by(ContentVariant.content_id, ContentVariant.name)))


def collection(session: Session, ref: int | str) -> ContentCollection | None:
    """Return a collection by id or name."""
    if isinstance(ref, int):
        return session.get(ContentCollection, ref)
    return session.scalar(select(ContentCollection).where(ContentCollection.name == ref))


def collections(session: Session) -> list[ContentCollection]:
    """Return every collection by name."""
    return list(session.scalars(select(ContentCollection).order_by(ContentCollection.name)))


def collection_items(session: Session, collection_id: int) -> list[int]:
    """Return a collection's item ids in order."""
    return list(session.scalars(select(ContentCollectionItem.content_id)
                                .where(ContentCollectionItem.collection_id == collection_id)
                                .order_by(ContentCollectionItem.position, ContentCollectionItem.content_id)))


def replace_collection_items(session: Session, collection_id: int, content_ids: Sequence[int]) -> None:
    """Replace a collection's items with ``content_ids`` in that order."""
    session.execute(delete(ContentCollectionItem).where(ContentCollectionItem.collection_id == collection_id))
    session.add_all([ContentCollectionItem(collection_id=collection_id, content_id=c, position=i)
                     for i, c in enumerate(content_ids)])
    session.flush()


def existing_item_ids(session: Session, ids: Sequence[int]) -> set[int]:
    """Return which of ``ids`` are items."""
    return set(session.scalars(select(ContentItem.id).where(ContentItem.id.in_(list(ids))))) if ids else set()


def insert_ignore(session: Session, model: Any, rows: Sequence[dict[str, Any]], key: str) -> None:
    """Insert rows of ``model``, skipping those whose ``key`` exists."""
    for part in chunks(list(rows), 1000):
        session.execute(dialect_insert(session, model.__table__).on_conflict_do_nothing(index_elements=[key]),
                        list(part))


def links_by_send_keys(session: Session, keys: Sequence[str]) -> dict[str, str]:
    """Return the link code of each send key that has one."""
    out: dict[str, str] = {}
    for part in chunks(list(keys), 1000):
        out.update(session.execute(select(ContentLink.send_key, ContentLink.code)
                                   .where(ContentLink.send_key.in_(list(part)))).tuples().all())
    return out


def link(session: Session, code: str) -> ContentLink | None:
    """Return the link with ``code``."""
    return session.scalar(select(ContentLink).where(ContentLink.code == code))


def insert_click(session: Session, row: dict[str, Any]) -> bool:
    """Record a click unless its click id is known; return whether it was new."""
    result = session.execute(dialect_insert(session, ContentClick.__table__)
                             .on_conflict_do_nothing(index_elements=["click_id"]), [row])
    return bool(result.rowcount)


def recently_sent(session: Session, customer_ids: Sequence[int], since: datetime) -> set[tuple[int, int]]:
    """Return (customer_id, content_id) pairs sent since ``since``."""
    out: set[tuple[int, int]] = set()
    for part in chunks(list(customer_ids), 1000):
        out.update(session.execute(select(ContentSend.customer_id, ContentSend.content_id)
                                   .where(ContentSend.customer_id.in_(list(part)), ContentSend.sent_at >= since)
                                   .distinct()).tuples().all())
    return out


def arm_stats(session: Session, content_ids: Sequence[int]) -> list[tuple[int, str, int, int, int]]:
    """Return (content_id, stage, sends, clicked sends, converted sends) of these items in one grouped query.

    Converted: the customer paid an order from the send until its ``attribution_until``.
    """
    if not content_ids:
        return []
    clicked = select(ContentClick.send_key).where(ContentClick.send_key.is_not(None)).distinct().subquery()
    paid = (select(Order.id).join(Identity, Identity.id == Order.identity_id)
            .where(Identity.customer_id == ContentSend.customer_id, Order.paid_at >= ContentSend.sent_at,
                   Order.paid_at < ContentSend.attribution_until).exists())
    query = (select(ContentSend.content_id, ContentSend.stage, func.count(), func.count(clicked.c.send_key),
                    func.sum(case((paid, 1), else_=0)))
             .outerjoin(clicked, clicked.c.send_key == ContentSend.send_key)
             .where(ContentSend.content_id.in_(list(content_ids)))
             .group_by(ContentSend.content_id, ContentSend.stage))
    return [(c, s, int(n), int(k), int(v or 0)) for c, s, n, k, v in session.execute(query).tuples()]


def sends(session: Session, content_ids: Sequence[int]) -> list[ContentSend]:
    """Return every send of these items."""
    if not content_ids:
        return []
    return list(session.scalars(select(ContentSend).where(ContentSend.content_id.in_(list(content_ids)))
                                .order_by(ContentSend.id)))


def clicks(session: Session, content_ids: Sequence[int]) -> list[ContentClick]:
    """Return every click on these items' links."""
    if not content_ids:
        return []
    return list(session.scalars(select(ContentClick).where(ContentClick.content_id.in_(list(content_ids)))
                                .order_by(ContentClick.id)))


def outbox_statuses(session: Session, keys: Sequence[str]) -> dict[str, str]:
    """Return the outbox status of each idempotency key."""
    out: dict[str, str] = {}
    for part in chunks(list(keys), 1000):
        out.update(session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status)
                                   .where(OutboxMessage.idempotency_key.in_(list(part)))).tuples().all())
    return out


def paid_orders(session: Session, customer_ids: Sequence[int], since: datetime) -> list[tuple[int, datetime, int]]:
    """Return (customer_id, paid_at, net fen) of orders paid since ``since`` by these customers."""
    out: list[tuple[int, datetime, int]] = []
    for part in chunks(sorted(set(customer_ids)), 1000):
        query = (select(Identity.customer_id, Order.paid_at, Order.amount_fen - Order.refunded_fen)
                 .join(Identity, Identity.id == Order.identity_id)
                 .where(Identity.customer_id.in_(list(part)), Order.paid_at.is_not(None), Order.paid_at >= since))
        out.extend((c, p, int(a)) for c, p, a in session.execute(query).tuples())
    return out


def customer(session: Session, customer_id: int) -> Customer | None:
    """Return a customer row."""
    return session.get(Customer, customer_id)


def stages(session: Session, customer_ids: Sequence[int]) -> dict[int, str | None]:
    """Return the AIPL stage of each customer that has a score row."""
    out: dict[int, str | None] = {}
    for part in chunks(list(customer_ids), 1000):
        out.update(session.execute(select(CustomerScore.customer_id, CustomerScore.aipl_stage)
                                   .where(CustomerScore.customer_id.in_(list(part)))).tuples().all())
    return out


def customers(session: Session, customer_ids: Sequence[int]) -> dict[int, Customer]:
    """Return these customer rows by id."""
    out: dict[int, Customer] = {}
    for part in chunks(sorted(set(customer_ids)), 1000):
        out.update((c.id, c) for c in session.scalars(select(Customer).where(Customer.id.in_(list(part)))))
    return out


def scores(session: Session, customer_ids: Sequence[int]) -> dict[int, CustomerScore]:
    """Return these customers' score rows by id."""
    out: dict[int, CustomerScore] = {}
    for part in chunks(sorted(set(customer_ids)), 1000):
        out.update((r.customer_id, r) for r in session.scalars(select(CustomerScore)
                                                               .where(CustomerScore.customer_id.in_(list(part)))))
    return out


def score(session: Session, customer_id: int) -> CustomerScore | None:
    """Return a customer's score row."""
    return session.get(CustomerScore, customer_id)
