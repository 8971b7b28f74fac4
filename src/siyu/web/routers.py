"""The API routers of every domain, in one list the app mounts under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from siyu.analytics import endpoints as analytics
from siyu.analytics import growth_endpoints as growth
from siyu.domains.channel_codes import endpoints as channel_codes
from siyu.domains.channel_costs import endpoints as channel_costs
from siyu.domains.content import endpoints as content
from siyu.domains.customers import endpoints as customers
from siyu.domains.groups import endpoints as groups
from siyu.domains.identity import endpoints as identity
from siyu.domains.journeys import endpoints as journeys
from siyu.domains.ingest import endpoints as ingest
from siyu.domains.mass_messages import endpoints as mass_messages
from siyu.domains.outbox import endpoints as outbox
from siyu.domains.segments import endpoints as segments
from siyu.domains.service import endpoints as service
from siyu.domains.scores import endpoints as scores
from siyu.domains.staff import endpoints as staff
from siyu.domains.tags import endpoints as tags
from siyu.domains.tasks import endpoints as tasks


def openapi_models() -> list[type[BaseModel]]:
    """Return body models documented by hand (endpoints that parse raw JSON for speed)."""
    return list(ingest.OPENAPI_MODELS)


def public_routers() -> list[APIRouter]:
    """Return routers mounted at the root, outside /api/v1 (the one-click unsubscribe link)."""
    return [outbox.public_router]


def all_routers() -> list[APIRouter]:
    """Return every domain router."""
    return [ingest.router, identity.router, staff.router, channel_codes.router, groups.router, customers.router,
            analytics.router, growth.router, scores.router, channel_costs.router, segments.router, tags.router,
            service.router, outbox.router,
            tasks.router, content.router, mass_messages.router, journeys.router]
