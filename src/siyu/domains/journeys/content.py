"""What a journey's message says: its own text, one content item, or each customer's best item of a collection.

A ``send_message`` step's ``content`` is one of

- ``{"text": "…", "subject": "…"}``: the text as written (``subject`` for email);
- ``{"content_id": 12, "variant": "B"}``: an item of the content library, rendered for each customer
  (sandboxed template, tracked link, the send counted in the item's metrics);
- ``{"collection": "每周推荐"}`` (id or name): smart push picks each customer's best item of the
  collection (interest tags, AIPL stage, nothing seen in the last 14 days, Thompson sampling over
  past clicks and conversions), then renders it as above.

Steps only buffer their messages; :func:`render` runs when a batch's messages are written, so a
batch reads the library, the customers and the bandit's evidence once per item, not per customer.
A customer for whom the collection has nothing left keeps an empty message, which the dispatcher
dead-letters as ``empty_message`` (visible with its reason, never silently dropped).
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains import content as library
from siyu.domains.outbox import NewMessage
from siyu.errors import SiyuError

def check_refs(session: Session, raw: dict[str, Any]) -> str | None:
    """Return what a step's content names that the library lacks, or None."""
    try:
        if "content_id" in raw:
            library.get_item(session, raw["content_id"])
        elif "collection" in raw:
            library.candidates(session, raw["collection"])
    except SiyuError as exc:  # not found: reported as the step's problem
        return exc.message
    return None


def render(session: Session, settings: Settings | None, messages: Sequence[NewMessage], now: datetime) -> list[NewMessage]:
    """Return ``messages`` with their content filled in: text copied up, items rendered per customer.

    Items need ``settings`` (the PII vault's key, for names in templates); without them only text is filled in.
    """
    out = list(messages)
    fixed: dict[tuple[int, str | None, str], dict[int, int]] = defaultdict(dict)  # (item, variant, source) → customer → pos
    pooled: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)  # (collection, source) → customer → position
    for pos, m in enumerate(out):
        spec = m.payload.get("content") or {}
        if "text" in spec:
            out[pos] = replace(m, payload={**m.payload, "text": spec["text"]}, subject=m.subject or spec.get("subject"))
        elif "content_id" in spec and m.customer_id is not None:
            fixed[(spec["content_id"], spec.get("variant"), m.source or "")][m.customer_id] = pos
        elif "collection" in spec and m.customer_id is not None:
            pooled[(str(spec["collection"]), m.source or "")][m.customer_id] = pos
    if settings is None:
        return out
    for (collection, source), where in pooled.items():
        ref: int | str = int(collection) if collection.isdigit() else collection
        choices = library.recommend_each(session, sorted(where), collection=ref, now=now,
                                         rng=random.Random(zlib.crc32(f"{source}:{collection}".encode())))
        for customer_id, pos in where.items():
            item = choices[customer_id].content_id
            if item is not None:
                fixed[(item, None, source)][customer_id] = pos
    for (item, variant, source), where in fixed.items():
        keys = {c: out[pos].idempotency_key for c, pos in where.items()}
        for p in library.prepare_sends(session, settings, item, keys, source=source, variant=variant, now=now):
            pos = where[p.customer_id]
            out[pos] = replace(out[pos], payload={**out[pos].payload, **p.payload}, content_id=item,
                               subject=out[pos].subject or p.payload.get("title"))
    return out
