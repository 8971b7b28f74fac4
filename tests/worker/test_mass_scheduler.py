"""The mass-message scheduler sends a due message once, even with two schedulers, and leaves future ones."""

from __future__ import annotations

from datetime import timedelta

from factories import T0, make_customer, make_ownership, make_staff
from sqlalchemy import Engine, select, update

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains import mass_messages
from siyu.domains.content.models import ContentItem
from siyu.domains.identity.models import Identity
from siyu.domains.mass_messages.models import MassMessage
from siyu.domains.mass_messages.schemas import MassIn
from siyu.domains.outbox import OutboxMessage
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow
from siyu.worker.mass import MassScheduler


def test_due_message_is_sent_once_future_one_waits(db_engine: Engine, settings: Settings) -> None:
    with unit_of_work(db_engine) as s:
        staff = make_staff(s, "s1")
        c = make_customer(s, PiiVault(settings.effective_secret_key), identities={"external_userid": "wmSched0001"})
        make_ownership(s, s.scalar(select(Identity).where(Identity.customer_id == c.id)), staff)
        s.add(ContentItem(kind="text", title="t", body="hi", created_by="t", created_at=T0, updated_at=T0))
        s.flush()
        item = s.scalar(select(ContentItem.id))
        ids = [mass_messages.create(s, MassIn(name=f"m{i}", audience={"staff": [staff.id]}, channel="wecom",  # type: ignore[arg-type]
                                              content_id=item, send_at=utcnow() + timedelta(hours=1)), actor="t").id
               for i in range(2)]
        # the first one's time has come (moved back directly: the API refuses past times)
        s.execute(update(MassMessage).where(MassMessage.id == ids[0]).values(send_at=utcnow() - timedelta(minutes=1)))
    first, second = MassScheduler(db_engine, settings), MassScheduler(db_engine, settings)
    assert first.run_once() == [ids[0]]
    assert second.run_once() == []
    with unit_of_work(db_engine, write=False) as s:
        assert [(m.idempotency_key, m.staff_id) for m in s.scalars(select(OutboxMessage))] == \
            [(f"mass:{ids[0]}:{c.id}", staff.id)]
        assert [m.status for m in s.scalars(select(MassMessage).order_by(MassMessage.id))] == ["sent", "scheduled"]
