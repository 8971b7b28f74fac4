"""Where a customer's email and SMS go: their newest ``email`` or ``phone`` identity, read at send time.

Journeys and mass messages address a customer, not an address. For a claimed batch, the dispatcher
asks :class:`ContactAddresses` for the addresses of its email and SMS messages that carry no ``to``
(one query per channel) and puts each into the message it hands the adapter, in memory only: the
outbox row never stores the address, so a phone number stays encrypted at rest. A customer with no
such identity gets no address and the adapter dead-letters the message as ``no_recipient``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from siyu.domains.identity import service as identity
from siyu.domains.outbox.ports import Outgoing
from siyu.kit.crypto import PiiVault

KIND_OF_CHANNEL = {"email": "email", "sms": "phone"}


class ContactAddresses:
    """Looks up the addresses of a batch's email and SMS messages."""

    def __init__(self, vault: PiiVault) -> None:
        self.vault = vault

    def fill(self, session: Session, messages: Sequence[Outgoing]) -> None:
        """Set ``payload["to"]`` of each email or SMS message to a customer that names no address."""
        wanted: dict[str, set[int]] = defaultdict(set)
        for m in messages:
            if m.channel in KIND_OF_CHANNEL and m.customer_id is not None and not m.payload.get("to"):
                wanted[m.channel].add(m.customer_id)
        found = {channel: identity.contact_values(session, self.vault, sorted(ids), KIND_OF_CHANNEL[channel])
                 for channel, ids in wanted.items()}
        for m in messages:
            address = found.get(m.channel, {}).get(m.customer_id) if m.customer_id is not None else None
            if address and not m.payload.get("to"):
                m.payload["to"] = address
