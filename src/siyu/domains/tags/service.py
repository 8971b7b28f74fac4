"""Tags: groups, manual and channel tags, rule tags' storage and holds, content-interest tags.

A hold of a tag is a row with ``added_at`` and ``removed_at``; removing a tag closes the row, so the
history of who held what, since when and why (``source``: manual, channel_code:<id>, rule, interest,
segment:<id>) is kept. Applying is idempotent: a tag already held is not applied twice. In an
exclusive group a customer holds at most one tag: applying one ends the holds of the others.

Rule tags are held by a condition of the segment language; the segments domain evaluates it (it
owns the rule language) and grants and revokes holds through :func:`grant_rule` and
:func:`revoke_rule`. Interest tags are set from scores the analytics compute
(:func:`set_interests`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.access import audit
from siyu.domains.tags import repository as repo
from siyu.domains.tags.models import CustomerTag, Tag, TagGroup, TagRule
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
    group = clean_group(group_name or DEFAULT_GROUP)
    if repo.by_name(session, name) is not None:
        raise Conflict(f"tag {name!r} already exists", code="tag_exists")
    if kind == "rule" and (found := repo.group_by_name(session, group)) is not None and found.exclusive:
        raise ValidationFailed(f"group {group!r} is exclusive: a rule tag cannot live there (rules may overlap)",
                               code="exclusive_group", field="group")
    ensure_group(session, group)
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
    _enforce_exclusive(session, rows, when)
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


def _enforce_exclusive(session: Session, rows: Sequence[dict[str, Any]], at: datetime) -> None:
    """End, for each new hold in an exclusive group, the customer's holds of the group's other tags."""
    if not rows:
        return
    exclusive = {g.name for g, _name, _n in repo.groups_with_counts(session) if g is not None and g.exclusive}
    if not exclusive:
        return
    tags = {t.id: t for t in repo.list_tags(session, None) if t.group_name in exclusive}
    for row in rows:
        tag = tags.get(row["tag_id"])
        if tag is not None:
            others = [t for t in repo.group_tag_ids(session, tag.group_name) if t != tag.id]
            repo.release_many(session, others, [row["customer_id"]], at)


# -- groups -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupView:
    """A tag group with how many tags it has."""

    name: str
    exclusive: bool
    tags: int


def clean_group(name: str) -> str:
    """Return a group name trimmed, or raise ``invalid_group`` when empty or over 64 characters."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > 64:
        raise ValidationFailed("a group name must be 1-64 characters", code="invalid_group", field="group")
    return cleaned


def ensure_group(session: Session, name: str) -> None:
    """Create the (non-exclusive) group ``name`` if it does not exist."""
    if repo.group_by_name(session, name) is None:
        repo.add_group(session, TagGroup(name=name, exclusive=False, created_at=utcnow()))


def create_group(session: Session, name: str, *, exclusive: bool = False, actor: str = "system") -> GroupView:
    """Create a tag group (in an exclusive one a customer holds at most one of its tags)."""
    name = clean_group(name)
    if repo.group_by_name(session, name) is not None:
        raise Conflict(f"group {name!r} already exists", code="group_exists", field="name")
    repo.add_group(session, TagGroup(name=name, exclusive=exclusive, created_at=utcnow()))
    audit(session, actor, "tag_group.create", "tag_group", name, {"exclusive": exclusive})
    return GroupView(name, exclusive, 0)


def rename_group(session: Session, old: str, new: str, *, actor: str = "system") -> None:
    """Rename a group; its tags follow."""
    new = clean_group(new)
    if not any(name == old for _g, name, _n in repo.groups_with_counts(session)):
        raise NotFound(f"group {old!r} does not exist", code="group_not_found")
    if new != old and repo.group_by_name(session, new) is not None:
        raise Conflict(f"group {new!r} already exists", code="group_exists", field="name")
    ensure_group(session, old)
    repo.rename_group(session, old, new)
    audit(session, actor, "tag_group.rename", "tag_group", new, {"from": old})


def list_groups(session: Session) -> list[GroupView]:
    """Return every group (also names only tags carry) with its number of tags."""
    return [GroupView(name, bool(g and g.exclusive), n) for g, name, n in repo.groups_with_counts(session)]


def move_tag(session: Session, tag_name: str, group: str, *, actor: str = "system") -> Tag:
    """Put a tag in another group (a tag belongs to exactly one group)."""
    tag = get_tag(session, tag_name)
    group = clean_group(group)
    target = repo.group_by_name(session, group)
    if tag.kind == "rule" and target is not None and target.exclusive:
        raise ValidationFailed(f"group {group!r} is exclusive: a rule tag cannot live there", code="exclusive_group",
                               field="group")
    ensure_group(session, group)
    repo.set_group(session, tag.id, group)
    audit(session, actor, "tag.move", "tag", tag.id, {"group": group, "from": tag.group_name})
    session.refresh(tag)
    return tag


def get_tag(session: Session, name: str) -> Tag:
    """Return the tag called ``name`` or raise ``tag_not_found``."""
    tag = repo.by_name(session, clean_name(name))
    if tag is None:
        raise NotFound(f"tag {name!r} does not exist", code="tag_not_found", field="tag")
    return tag


def holder_counts(session: Session) -> dict[int, int]:
    """Return {tag_id: how many customer rows hold it now}."""
    return repo.tag_counts(session)


# -- people applying tags to many customers ---------------------------------------------------------


def apply_to_customers(session: Session, tag_name: str, customer_ids: Sequence[int], *, actor: str,
                       source: str = "manual") -> int:
    """Put an existing manual tag on many customers at once (audited once); return how many were new."""
    tag = get_tag(session, tag_name)
    if tag.kind in ("rule", "interest"):
        raise ValidationFailed(f"tag {tag.name!r} is a {tag.kind} tag: it is held by its rule, not by hand",
                               code="tag_not_manual", field="tag")
    added = apply_tags_bulk(session, [(c, [tag.name], source) for c in customer_ids])
    audit(session, actor, "tag.apply_many", "tag", tag.id, {"tag": tag.name, "source": source,
                                                            "customers": len(customer_ids), "added": added})
    return added


def remove_from_customers(session: Session, tag_name: str, customer_ids: Sequence[int], *, actor: str) -> int:
    """Take a tag off many customers at once (audited once); return how many holds ended."""
    tag = get_tag(session, tag_name)
    ended = repo.release_many(session, [tag.id], customer_ids, utcnow())
    audit(session, actor, "tag.remove_many", "tag", tag.id, {"tag": tag.name, "customers": len(customer_ids),
                                                             "removed": ended})
    return ended


def tag_history(session: Session, tag_name: str, *, customer_id: int | None = None, limit: int = 100) -> list[CustomerTag]:
    """Return holds of a tag, open and closed, newest first (when each was gained and lost)."""
    return repo.history(session, get_tag(session, tag_name).id, customer_id, limit)


# -- rule tags (evaluated by the segments domain) ---------------------------------------------------


def store_rule(session: Session, tag: Tag, rule: dict[str, Any], *, actor: str) -> TagRule:
    """Attach its rule to a rule tag (the caller has checked the rule)."""
    row = TagRule(tag_id=tag.id, rule=rule, created_by=actor, updated_at=utcnow())
    repo.add_rule(session, row)
    return row


def rule_of(session: Session, tag_id: int) -> TagRule | None:
    """Return a rule tag's rule row."""
    return repo.rule_of(session, tag_id)


def replace_rule(session: Session, tag_id: int, rule: dict[str, Any]) -> None:
    """Replace a rule tag's rule (the caller has checked it)."""
    repo.set_rule_state(session, tag_id, rule=rule, updated_at=utcnow())


def rule_tags(session: Session) -> list[tuple[TagRule, Tag]]:
    """Return every rule tag with its rule."""
    return repo.rules_with_tags(session)


def rule_now(session: Session, tag_id: int) -> dict[str, Any] | None:
    """Return a rule tag's stored rule (None: it is no longer a rule tag)."""
    return repo.rule_body(session, tag_id)


def rule_holders(session: Session, tag_id: int, among: Sequence[int] | None = None) -> set[int]:
    """Return the customer rows holding a rule tag by its rule now."""
    return repo.holders(session, tag_id, among, source="rule")


def grant_rule(session: Session, tag_id: int, customer_ids: Iterable[int], at: datetime) -> None:
    """Start holds of a rule tag (the time it was gained)."""
    repo.insert_held(session, [{"customer_id": c, "tag_id": tag_id, "source": "rule", "added_at": at, "removed_at": None}
                               for c in sorted(customer_ids)])


def revoke_rule(session: Session, tag_id: int, customer_ids: Iterable[int], at: datetime) -> None:
    """End holds of a rule tag (the time it was lost)."""
    repo.release_many(session, [tag_id], list(customer_ids), at, source="rule")


def mark_rule_evaluated(session: Session, tag_id: int, at: datetime, *, full: bool) -> None:
    """Record when a rule tag's holds were last brought up to date."""
    repo.set_rule_state(session, tag_id, **({"refreshed_at": at} if full else {"touched_at": at}))


# -- interest tags (scores computed by analytics.interest) ----------------------------------------------


def set_interest_scores(session: Session, customer_ids: Sequence[int] | None, rows: Sequence[dict[str, Any]]) -> None:
    """Replace the interest scores of these customers (None: everyone's) with ``rows``."""
    repo.replace_interest_scores(session, customer_ids, rows)


def interest_customers(session: Session) -> set[int]:
    """Return the customers who hold interest scores or interest tags now."""
    return repo.interest_customers(session)


def interest_scores(session: Session, customer_ids: Sequence[int]) -> list[Any]:
    """Return the interest scores of these customers, highest first."""
    return repo.interest_scores(session, customer_ids)


def set_interests(session: Session, desired: dict[int, list[str]], *, group: str, at: datetime,
                  everyone: bool) -> None:
    """Make the customers' interest tags exactly ``desired`` (with ``everyone``, others lose theirs)."""
    names = {n for tags in desired.values() for n in tags}
    if names:
        ensure_group(session, group)
        missing = sorted(set(names) - set(repo.ids_by_name(session, names)))
        repo.insert_missing(session, [{"name": n, "group_name": group, "kind": "interest", "created_at": at}
                                      for n in missing])
    ids = repo.ids_by_name(session, names)
    held = set(repo.open_holds_from(session, "interest", None if everyone else sorted(desired)))
    wanted = {(cid, ids[n]) for cid, tags in desired.items() for n in tags}
    repo.insert_held(session, [{"customer_id": c, "tag_id": t, "source": "interest", "added_at": at, "removed_at": None}
                               for c, t in sorted(wanted - held)])
    repo.release_pairs(session, sorted(held - wanted), at, "interest")


@dataclass(frozen=True)
class TagView:
    """A tag with how many customers hold it now and, for a rule tag, its rule."""

    tag: Tag
    holders: int
    rule: TagRule | None


def describe_tags(session: Session, *, kind: str | None = None) -> list[TagView]:
    """Return every tag (optionally of one kind) by group and name, with holders and rules."""
    counts = repo.tag_counts(session)
    rules = {r.tag_id: r for r, _t in repo.rules_with_tags(session)}
    return [TagView(t, counts.get(t.id, 0), rules.get(t.id)) for t in repo.list_tags(session, kind)]
