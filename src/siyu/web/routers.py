"""The API routers of every domain, in one list the app mounts under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.domains.ingest import endpoints as ingest


def all_routers() -> list[APIRouter]:
    """Return every domain router."""
    return [ingest.router]
