"""Typed factories that insert rows straight through the ORM (until ingestion builds them).

Identities are stored the way OneID stores them: ``lookup`` is the blind index of the normalised
value, PII kinds (phone, email) are encrypted with a masked form, other kinds kept in plaintext.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import count
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from siyu.domains.access import Principal
from siyu.domains.access.deps import get_principal
from siyu.domains.access.models import ApiKey, User
from siyu.domains.access.service import create_api_key, create_user
from siyu.domains.channel_codes.models import ChannelCode
from siyu.domains.customers.models import Customer
from siyu.domains.events.models import Event
from siyu.domains.groups.models import CustomerGroup, GroupMembership
from siyu.domains.identity.models import Identity
from siyu.domains.orders.models import Order, OrderFact
from siyu.domains.staff.models import Ownership, Staff
from siyu.domains.tags.models import CustomerTag, Tag
from siyu.kit.crypto import PiiVault, mask_email, mask_generic, mask_name, mask_phone
from siyu.kit.time import UTC

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PII_MASKS = {"phone": mask_phone, "email": mask_email}
_seq = count(1)


def at(minutes: int) -> datetime:
    """Return T0 plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def _add(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row


def make_identity(session: Session, vault: PiiVault, customer_id: int, kind: str, value: str) -> Identity:
    """Attach one identity (already normalised) to a customer."""
    mask = PII_MASKS.get(kind)
    return _add(session, Identity(
        kind=kind, lookup=vault.blind_index(kind, value),
        value=None if mask else value, value_enc=vault.encrypt(value) if mask else None,
        masked=(mask or mask_generic)(value), customer_id=customer_id, origin_customer_id=customer_id,
        cause_type="import", cause_ref=f"factory-{next(_seq)}", created_at=T0))


def make_customer(session: Session, vault: PiiVault, *, name: str | None = None,
                  identities: dict[str, str] | None = None, first_seen_at: datetime = T0,
                  source_platform: str | None = None, source_channel_code_id: int | None = None,
                  merged_into_id: int | None = None, **profile: Any) -> Customer:
    """Insert a customer with its identities (``{kind: normalised value}``)."""
    customer = _add(session, Customer(
        name_enc=vault.encrypt(name) if name else None, name_idx=vault.blind_index("name", name) if name else None,
        name_masked=mask_name(name) if name else None, first_seen_at=first_seen_at, created_at=first_seen_at,
        updated_at=first_seen_at, source_platform=source_platform, source_channel_code_id=source_channel_code_id,
        merged_into_id=merged_into_id, attributes=profile.pop("attributes", {}), **profile))
    for kind, value in (identities or {}).items():
        make_identity(session, vault, customer.id, kind, value)
    return customer


def make_staff(session: Session, userid: str | None = None, name: str = "导购") -> Staff:
    """Insert an active staff member."""
    return _add(session, Staff(userid=userid or f"staff{next(_seq)}", name=name, created_at=T0))


def make_channel_code(session: Session, name: str = "门店海报", platform: str = "store") -> ChannelCode:
    """Insert a fixed-strategy channel code."""
    return _add(session, ChannelCode(name=name, state=f"c{next(_seq)}", platform=platform, strategy="fixed",
                                     created_at=T0, updated_at=T0))


def make_ownership(session: Session, identity: Identity, staff: Staff, *, code: ChannelCode | None = None,
                   added_at: datetime = T0, removed_at: datetime | None = None) -> Ownership:
    """Insert a follow relation of ``staff`` over ``identity``."""
    return _add(session, Ownership(identity_id=identity.id, staff_id=staff.id,
                                   channel_code_id=code.id if code else None,
                                   source="channel_code" if code else "import", added_at=added_at,
                                   removed_at=removed_at, removed_by="customer" if removed_at else None))


def make_event(session: Session, identity: Identity, type_: str = "page_view", *, occurred_at: datetime = T0,
               properties: dict[str, Any] | None = None, channel: str | None = "mini_program") -> Event:
    """Insert an event anchored on ``identity``."""
    return _add(session, Event(event_id=f"ev-{next(_seq)}", type=type_, occurred_at=occurred_at, received_at=occurred_at,
                               identity_id=identity.id, channel=channel, properties=properties or {}))


def make_order(session: Session, identity: Identity, amount_fen: int, *, placed_at: datetime = T0,
               paid: bool = True, refunded_fen: int = 0, order_id: str | None = None) -> Order:
    """Insert an order with its created (and paid, refunded) facts."""
    status = "refunded" if refunded_fen else ("paid" if paid else "created")
    order = _add(session, Order(order_id=order_id or f"o-{next(_seq)}", identity_id=identity.id, channel="mall",
                                amount_fen=amount_fen, refunded_fen=refunded_fen, status=status, placed_at=placed_at,
                                paid_at=placed_at + timedelta(minutes=1) if paid else None,
                                updated_at=placed_at))
    facts = [("created", placed_at, amount_fen)]
    if paid:
        facts.append(("paid", placed_at + timedelta(minutes=1), amount_fen))
    if refunded_fen:
        facts.append(("refunded", placed_at + timedelta(minutes=2), refunded_fen))
    for status_, when, amount in facts:
        _add(session, OrderFact(order_pk=order.id, status=status_, fact_key="", amount_fen=amount,
                                occurred_at=when, received_at=when))
    return order


def make_tag(session: Session, customer: Customer, name: str, *, removed: bool = False) -> Tag:
    """Give ``customer`` the tag ``name`` (creating the tag if needed)."""
    tag = session.query(Tag).filter_by(name=name).one_or_none() or _add(session, Tag(name=name, created_at=T0))
    _add(session, CustomerTag(customer_id=customer.id, tag_id=tag.id, source="manual", added_at=T0,
                              removed_at=T0 if removed else None))
    return tag


def make_group_membership(session: Session, identity: Identity, chat_id: str, *, left: bool = False) -> CustomerGroup:
    """Put ``identity`` in the group ``chat_id`` (creating the group if needed)."""
    group = session.query(CustomerGroup).filter_by(chat_id=chat_id).one_or_none() \
        or _add(session, CustomerGroup(chat_id=chat_id, name=f"群 {chat_id}", created_at=T0))
    _add(session, GroupMembership(group_id=group.id, identity_id=identity.id, joined_at=T0,
                                  left_at=at(10) if left else None))
    return group


def make_user(session: Session, username: str, role: str = "admin", *, staff: Staff | None = None,
              password: str = "correct horse battery", can_read_pii: bool | None = None) -> User:
    """Create a user through the access service."""
    return create_user(session, username, password, role, staff_id=staff.id if staff else None,
                       can_read_pii=can_read_pii)


def make_api_key(session: Session, scope: str = "admin", name: str = "test") -> tuple[ApiKey, str]:
    """Create an API key through the access service; return the row and its token."""
    return create_api_key(session, name, [scope])


def birthday(year: int = 1990) -> date:
    """Return a fixed birthday in ``year``."""
    return date(year, 5, 17)


def as_principal(app: FastAPI, principal: Principal) -> TestClient:
    """Return a client whose every request is made as ``principal`` (console logins arrive later)."""
    app.dependency_overrides[get_principal] = lambda: principal
    return TestClient(app)


def staff_principal(staff_id: int) -> Principal:
    """Return the principal of a staff user linked to ``staff_id`` (no PII)."""
    return Principal(actor=f"user:staff{staff_id}", role="staff", staff_id=staff_id)


ANALYST = Principal(actor="user:ana", role="analyst")
