"""Random tokens and key formats."""

from __future__ import annotations

import secrets


def new_token(prefix: str, nbytes: int = 24) -> str:
    """Return a URL-safe random token with a readable prefix, e.g. ``sk_ingest_…``."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def new_state(nbytes: int = 12) -> str:
    """Return an opaque channel-code state (<= 30 chars, WeCom's limit)."""
    return "c" + secrets.token_urlsafe(nbytes)
