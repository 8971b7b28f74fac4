"""What ingestion hands to other domains after it has stored a fact."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """A stored event with its resolved identity and customer.

    ``identities`` maps each identity kind present in the event (after normalisation and junk
    filtering) to its identity row id; ``identity_id`` is the anchor the event is stored under;
    ``customer_id`` is the live customer at the time of ingestion.
    """

    id: int
    event_id: str
    type: str
    occurred_at: datetime
    identity_id: int
    customer_id: int
    channel: str | None
    properties: dict[str, Any]
    identities: dict[str, int] = field(default_factory=dict)
