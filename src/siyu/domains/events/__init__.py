"""Events: behavioural facts. Other domains use AcceptedEvent and the Event table for joins."""

from siyu.domains.events.facts import AcceptedEvent
from siyu.domains.events.models import Event

__all__ = ["AcceptedEvent", "Event"]
