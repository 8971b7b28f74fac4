"""Customer rules: source attribution, profile updates and the scoped read side.

Source attribution is first-touch and treats (channel code, platform) as one value: it is written
only while the customer has neither, so a later scan of another code never rewrites where the
person came from, and the pair never mixes two different touches.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from siyu.domains.customers import repository as repo
from siyu.errors import NotFound, ValidationFailed
from siyu.kit.time import utcnow

MAX_PLATFORM = 32


def _live(session: Session, customer_id: int) -> int:
    root = repo.live_root_id(session, customer_id)
    if root is None:
        raise NotFound(f"customer {customer_id} not found", code="not_found")
    return root


def attribute_source(session: Session, customer_id: int, channel_code_id: int | None, platform: str | None) -> bool:
    """Set the customer's first-touch source on its live root if none is recorded; return whether it was set."""
    platform = (platform or "").strip() or None
    if platform is not None and len(platform) > MAX_PLATFORM:
        raise ValidationFailed(f"platform must be at most {MAX_PLATFORM} characters", code="invalid_platform")
    if channel_code_id is None and platform is None:
        return False
    root = _live(session, customer_id)
    return repo.set_source_if_empty(session, root, channel_code_id, platform, utcnow())
