"""Tags (minimal for now): create and list tags, put them on customers and take them off.

A hold of a tag is a row with ``added_at`` and ``removed_at``; removing a tag closes the row, so the
history of who held what, and why (``source``), is kept. Applying is idempotent: a tag already held
is not applied twice. Rule and interest tags arrive with customer intelligence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.domains.access import audit
from siyu.domains.tags import repository as repo
from siyu.domains.tags.models import Tag
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.time import ensure_utc, utcnow

KINDS = ("manual", "channel", "rule", "interest")
DEFAULT_GROUP = "默认"


def clean_name(name: str) -> str:
    """Return a tag name trimmed, or raise ``invalid_tag`` when empty or over 64 characters."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > 64:
        raise ValidationFailed("a tag name must be 1-64 characters", code="invalid_tag", tag=name)
    return cleaned


def create_tag(session: Session, name: str, *, group_name: str = DEFAULT_GROUP, kind: str = "manual",
               actor: str = "system") -> Tag:
    """Create a tag in a group."""
    name = clean_name(name)
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", code="invalid_tag_kind")
    group = (group_name or DEFAULT_GROUP).strip()[:64] or DEFAULT_GROUP
    if repo.by_name(session, name) is not None:
        raise Conflict(f"tag {name!r} already exists", code="tag_exists")
    tag = Tag(name=name, group_name=group, kind=kind, created_at=utcnow())
    repo.add(session, tag)
    audit(session, actor, "tag.create", "tag", tag.id, {"name": name, "kind": kind})
    return tag


def list_tags(session: Session, *, kind: str | None = None) -> list[Tag]:
    """Return every tag, optionally of one kind."""
    return repo.list_tags(session, kind)


def ensure_tags(session: Session, names: Iterable[str], *, kind: str = "manual") -> dict[str, int]:
    """Return {name: tag_id}, creating missing tags of ``kind`` in the default group."""
    wanted = {clean_name(n) for n in names}
    if not wanted:
        return {}
    found = repo.ids_by_name(session, wanted)
    missing = sorted(wanted - found.keys())
    if missing:
        now = utcnow()
        repo.insert_missing(session, [{"name": n, "group_name": DEFAULT_GROUP, "kind": kind, "created_at": now}
                                      for n in missing])
        found.update(repo.ids_by_name(session, missing))
    return found


def _kind_for(source: str) -> str:
    return "channel" if source.startswith("channel_code") else "manual"


def apply_tags(session: Session, customer_id: int, tag_names: Iterable[str], source: str, *,
               at: datetime | None = None) -> int:
    """Put tags on a customer (creating missing tags); return how many were newly applied."""
    return apply_tags_bulk(session, [(customer_id, list(tag_names), source)], at=at)


def apply_tags_bulk(session: Session, items: Sequence[tuple[int, Sequence[str], str]], *,
                    at: datetime | None = None) -> int:
    """Apply (customer_id, tag names, source) items in a fixed number of queries; return new holds.

    Tags a source creates get kind ``channel`` for ``channel_code:<id>`` sources, else ``manual``.
    """
    by_kind: dict[str, set[str]] = defaultdict(set)
    for _, names, source in items:
        by_kind[_kind_for(source)].update(clean_name(n) for n in names)
    ids: dict[str, int] = {}
    for kind, names in sorted(by_kind.items()):
        ids.update(ensure_tags(session, names, kind=kind))
    held = repo.held_pairs(session, {c for c, _, _ in items}, ids.values())
    when = ensure_utc(at) if at else utcnow()
    rows = []
    for customer_id, names, source in items:
        for name in names:
            pair = (customer_id, ids[clean_name(name)])
            if pair not in held:
                held.add(pair)
                rows.append({"customer_id": customer_id, "tag_id": pair[1], "source": source[:32],
                             "added_at": when, "removed_at": None})
    repo.insert_held(session, rows)
    return len(rows)


def remove_tag(session: Session, customer_id: int, tag_name: str, *, at: datetime | None = None,
               actor: str | None = None) -> bool:
    """Take a tag off a customer; return whether the customer held it."""
    tag = repo.by_name(session, clean_name(tag_name))
    if tag is None:
        raise NotFound(f"tag {tag_name!r} does not exist", code="tag_not_found")
    removed = repo.release(session, customer_id, tag.id, ensure_utc(at) if at else utcnow()) > 0
    if removed and actor:
        audit(session, actor, "tag.remove", "customer", customer_id, {"tag": tag.name})
    return removed


def tags_of(session: Session, customer_ids: Iterable[int]) -> dict[int, list[str]]:
    """Return {customer_id: sorted tag names held now}; customers without tags map to []."""
    ids = set(customer_ids)
    result: dict[int, list[str]] = {cid: [] for cid in ids}
    for customer_id, name in repo.held_names(session, ids):
        result[customer_id].append(name)
    for names in result.values():
        names.sort()
    return result
