"""Events: behavioural facts. Other domains use AcceptedEvent, check_type (the catalogue) and the
Event table for joins."""

from siyu.domains.events.catalogue import check_type
from siyu.domains.events.facts import AcceptedEvent
from siyu.domains.events.models import Event

__all__ = ["AcceptedEvent", "Event", "check_type"]
