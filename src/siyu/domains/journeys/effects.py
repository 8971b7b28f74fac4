"""Side effects of a batch, written together: outbox messages, staff tasks and tag holds.

Steps of a batch run one customer after another, but their most common effects are rows of other
domains that each take several statements to write (a tag: find or create it, read who holds it,
insert; a task: find the customer's owner, insert, read back). Buffering them and writing each kind
once per batch (or once per enrolment when the batch reruns isolated) keeps a step to a few
statements without changing what is written: the buffer is flushed inside the same transaction and
savepoint as the enrolments' new state, with the same idempotency keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.journeys import repository as repo
from siyu.domains.journeys.content import render
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.staff import owners_of
from siyu.domains.tags import apply_tags_bulk
from siyu.domains.tasks import NewTask, create_tasks


@dataclass
class Pending:
    """Effects waiting to be written; ``owner_tasks`` go to the staff member who follows the customer."""

    messages: list[NewMessage] = field(default_factory=list)
    tasks: list[NewTask] = field(default_factory=list)
    owner_tasks: list[NewTask] = field(default_factory=list)
    tags: list[tuple[int, list[str], str]] = field(default_factory=list)

    def clear(self) -> None:
        """Forget everything buffered (its savepoint was rolled back)."""
        self.messages.clear()
        self.tasks.clear()
        self.owner_tasks.clear()
        self.tags.clear()

    def flush(self, session: Session, now: datetime, settings: Settings | None = None) -> None:
        """Write everything buffered, each kind in bulk (messages with their content rendered, given ``settings``)."""
        enqueue(session, render(session, settings, self.messages, now))
        if self.owner_tasks:
            owners = _owners(session, sorted({t.customer_id for t in self.owner_tasks if t.customer_id}))
            self.tasks += [_with_staff(t, owners.get(t.customer_id or 0)) for t in self.owner_tasks]
        if self.tasks:
            create_tasks(session, self.tasks, now=now)
        if self.tags:
            apply_tags_bulk(session, self.tags, at=now)
        self.clear()


def _with_staff(task: NewTask, staff_id: int | None) -> NewTask:
    return NewTask(idempotency_key=task.idempotency_key, title=task.title, staff_id=staff_id,
                   customer_id=task.customer_id, body=task.body, due_at=task.due_at, source=task.source)


def _owners(session: Session, customer_ids: list[int]) -> dict[int, int]:
    """Return {customer: the staff member of their oldest active follow relation}."""
    by_identity = repo.identities_of(session, customer_ids)
    found: dict[int, tuple[int, int]] = {}
    for relation in owners_of(session, list(by_identity)):
        customer = by_identity[relation.identity_id]
        if customer not in found or relation.ownership_id < found[customer][0]:
            found[customer] = (relation.ownership_id, relation.staff_id)
    return {c: staff for c, (_o, staff) in found.items()}
