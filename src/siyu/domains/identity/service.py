"""Identity rules: normalisation, look-up, the explanation graph, manual merge, unmerge and split.

Batch resolution for ingestion lives in :mod:`siyu.domains.identity.resolver`; this module holds
what operators and other domains call. Services flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.domains.access import audit
from siyu.domains.identity import repository as repo
from siyu.domains.identity.fresh import FreshFacts
from siyu.domains.identity.kinds import IdentityError, KindRegistry, KindSpec, is_junk
from siyu.domains.identity.models import Identity
from siyu.domains.identity.resolver import FactIdentities, Resolved, Resolver
from siyu.errors import Conflict, NotFound, ValidationFailed
from siyu.kit.crypto import PiiVault, mask_generic
from siyu.kit.time import utcnow


__all__ = ["FactIdentities", "FreshFacts", "IdentityContext", "IdentityError", "Normalised", "Resolved"]  # the surface ingestion uses

MEMO_LIMIT = 200_000


@dataclass(frozen=True)
class IdentityContext:
    """What identity rules need from settings: kinds, unique kinds, junk test numbers, the vault."""

    kinds: KindRegistry
    test_numbers: frozenset[str]
    vault: PiiVault
    # (kind, raw value) → normalised entry or refusal: the same people send the same identities
    # over and over, and normalising plus the keyed HMAC is most of the per-event CPU cost.
    memo: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)
    memo_limit: int = MEMO_LIMIT  # entries (~350 bytes each) before the memo starts over

    @classmethod
    def from_settings(cls, settings: Settings, *, memo_limit: int = MEMO_LIMIT) -> IdentityContext:
        """Build the context from settings (validates SIYU_EXTRA_IDENTITY_KINDS)."""
        kinds = KindRegistry(settings.csv_set(settings.extra_identity_kinds), settings.csv_set(settings.unique_identity_kinds))
        return cls(kinds, settings.csv_set(settings.test_phone_numbers), PiiVault(settings.effective_secret_key),
                   memo_limit=memo_limit)


@dataclass(slots=True)
class Normalised:
    """A fact's usable identities, and the junk values refused from it."""

    items: list[tuple[KindSpec, str, str, str]] = field(default_factory=list)
    junk: list[tuple[str, str]] = field(default_factory=list)  # (kind, masked raw value)

    def __reduce__(self) -> tuple[type[Normalised], tuple[list[Any], list[Any]]]:
        # ~15x cheaper to unpickle than the dataclass default: import chunks cross processes
        return Normalised, (self.items, self.junk)


def normalise_one(ctx: IdentityContext, kind: str, raw: object, spec: KindSpec | None = None) -> tuple[KindSpec, str]:
    """Return (spec, normalised value); raise IdentityError (unknown kind, junk, malformed).

    ``spec``: the kind's rules when the caller already has them (a column of one kind).
    """
    spec = spec or ctx.kinds.spec(kind)
    if raw is None or isinstance(raw, (bool, dict, list)):
        raise IdentityError("invalid_identity", f"identity {kind!r} must be a string")
    text = str(raw)
    if len(text) > 256:
        raise IdentityError("invalid_identity", f"identity {kind!r} is longer than 256 characters")
    if is_junk(text, ctx.test_numbers):
        raise IdentityError("junk_identity", f"identity {kind!r} value {mask_generic(text)!r} is a placeholder")
    value = spec.normalise(text)
    if value in ctx.test_numbers:
        raise IdentityError("junk_identity", f"identity {kind!r} is a configured test number")
    return spec, value


def _normalised_entry(ctx: IdentityContext, kind: str, value: object, spec: KindSpec | None) -> Any:
    """Return (spec, kind, value, lookup), or ("junk", masked) for a placeholder; raise if invalid."""
    try:
        spec, norm = normalise_one(ctx, kind, value, spec)
    except IdentityError as exc:
        if exc.code != "junk_identity":
            raise
        return ("junk", mask_generic(str(value)) if value not in (None, "") else repr(value))
    return (spec, kind, norm, ctx.vault.blind_index(kind, norm))


def normalise_entry(ctx: IdentityContext, kind: str, value: object, spec: KindSpec | None = None) -> Any:
    """Return (spec, kind, value, lookup) or ("junk", masked) for one raw identity, remembered; raise if invalid."""
    key = (kind, value) if type(value) is str else None
    entry = ctx.memo.get(key) if key else None
    if entry is None:
        entry = _normalised_entry(ctx, kind, value, spec)
        if key:
            if len(ctx.memo) >= ctx.memo_limit:
                ctx.memo.clear()
            ctx.memo[key] = entry
    return entry


def _plain_entry(ctx: IdentityContext, spec: KindSpec, kind: str, value: str) -> Any:
    """Return the remembered entry of a string that is neither empty, junk nor refused; None for the others.

    The common case of normalise_entry without its layers (a fresh value costs one HMAC and this):
    callers send every value it declines to :func:`normalise_entry`, which says why.
    """
    try:
        norm = spec.normalise(value) if value and len(value) <= 256 and not is_junk(value, ctx.test_numbers) else None
    except IdentityError:
        return None
    if norm is None or norm in ctx.test_numbers:
        return None
    entry = (spec, kind, norm, ctx.vault.blind_index(kind, norm))
    if len(ctx.memo) >= ctx.memo_limit:
        ctx.memo.clear()
    ctx.memo[(kind, value)] = entry
    return entry


def normalise_column(ctx: IdentityContext, kind: str, values: Sequence[str]) -> tuple[list[Any], bool]:
    """Return :func:`normalise_entry` of each string of one kind (None for "", the IdentityError of a refused one).

    The second value says whether every entry is a usable identity (no empty cell, junk or refusal).
    Imports call this once per identity column of a chunk, so the kind's rules are looked up once.
    """
    try:
        spec = ctx.kinds.spec(kind)
    except IdentityError as exc:
        return [exc if value else None for value in values], False
    memo = ctx.memo
    out: list[Any] = []
    clean = True
    for value in values:
        entry = memo.get((kind, value)) or _plain_entry(ctx, spec, kind, value)
        if entry is None:
            clean = False
            try:
                entry = normalise_entry(ctx, kind, value, spec) if value else None
            except IdentityError as exc:
                entry = exc
        elif type(entry[0]) is str:  # remembered junk
            clean = False
        out.append(entry)
    return out, clean


def normalise_all(ctx: IdentityContext, raw: dict[str, Any]) -> Normalised:
    """Normalise a fact's ``{kind: value}``; junk is set aside, anything else invalid raises."""
    out = Normalised()
    memo = ctx.memo
    for kind, value in raw.items():
        if type(value) is str:
            entry = memo.get((kind, value)) or _plain_entry(ctx, ctx.kinds.spec(kind), kind, value) \
                or normalise_entry(ctx, kind, value)
        else:
            entry = normalise_entry(ctx, kind, value)
        if entry[0] == "junk":
            out.junk.append((kind, entry[1]))
        else:
            out.items.append(entry)
    return out


def junk_issue_rows(junk: list[tuple[str, str]], cause_type: str, cause_ref: str) -> list[dict[str, Any]]:
    """Return review rows recording refused junk values of one fact."""
    now = utcnow()
    return [{"category": "junk", "kind": kind, "value_masked": masked, "customer_id": None, "other_customer_id": None,
             "cause_type": cause_type, "cause_ref": cause_ref[:160], "detail": {"reason": "placeholder value refused"},
             "status": "open", "created_at": now} for kind, masked in junk]


def record_junk(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write junk warnings to the review queue."""
    repo.insert_issues(session, rows)


def known_identities(session: Session, lookups: Iterable[str]) -> dict[str, tuple[int, str, str, int]]:
    """Return blind index → (identity id, kind, blind index, customer id) of the stored identities among ``lookups``
    (what :meth:`Resolver.resolve` takes as ``known``)."""
    return {row[2]: row for row in repo.identities_by_lookup(session, lookups)}


def resolver(session: Session, ctx: IdentityContext) -> Resolver:
    """Return a batch resolver bound to this session (take :func:`lock` first)."""
    return Resolver(session, ctx.vault, ctx.kinds)


def lock(session: Session) -> None:
    """Serialise identity-graph writers for the current transaction."""
    repo.lock_graph(session)


def live_customer_id(session: Session, customer_id: int) -> int:
    """Return the live customer a (possibly merged) id now stands for."""
    row = repo.customer(session, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} does not exist", code="customer_not_found")
    return row.merged_into_id or row.id


def find_customer(session: Session, ctx: IdentityContext, kind: str, value: object) -> int | None:
    """Return the live customer holding identity ``kind:value``, or None."""
    try:
        _spec, norm = normalise_one(ctx, kind, value)
    except IdentityError as exc:
        raise ValidationFailed(exc.message, code=exc.code) from exc
    ident = repo.identity_by_lookup(session, ctx.vault.blind_index(kind, norm))
    return None if ident is None else live_customer_id(session, ident.customer_id)


def identities_of(session: Session, customer_id: int) -> list[Identity]:
    """Return the identities a live customer holds."""
    return repo.identities(session, live_customer_id(session, customer_id))


def contact_values(session: Session, vault: PiiVault, customer_ids: Iterable[int], kind: str) -> dict[int, str]:
    """Return each customer's newest identity of ``kind`` in plain text: where to send an email or an SMS.

    A system read at send time (the dispatcher), not shown to anyone, so not audited; the value lives
    only in memory. A customer merged away since the message was queued gets the survivor's address.
    """
    out: dict[int, str] = {}
    for customer_id, value, value_enc in repo.identities_of_kind(session, customer_ids, kind):
        out[customer_id] = vault.decrypt(value_enc) if value_enc else (value or "")
    return out


def reveal(ctx: IdentityContext, ident: Identity) -> str:
    """Return the plaintext value of an identity (callers audit the read)."""
    return ctx.vault.decrypt(ident.value_enc) if ident.value_enc else (ident.value or "")


def _identity_view(ident: Identity, ctx: IdentityContext, unmasked: bool) -> dict[str, Any]:
    return {"id": ident.id, "kind": ident.kind, "value": reveal(ctx, ident) if unmasked else ident.masked,
            "masked": not unmasked, "created_at": ident.created_at,
            "cause": {"type": ident.cause_type, "ref": ident.cause_ref}}


def graph(session: Session, ctx: IdentityContext, customer_id: int, *, unmasked: bool) -> dict[str, Any]:
    """Explain why each identity belongs to this customer: links, merges, blocks, open issues."""
    root = live_customer_id(session, customer_id)
    idents = repo.identities(session, root)
    ids = [i.id for i in idents]
    merges = repo.merges_of(session, [root, *repo.tombstones_of(session, root)])
    return {
        "customer_id": root,
        "requested_id": customer_id,
        "identities": [_identity_view(i, ctx, unmasked) for i in idents],
        "links": [{"a": link.a_id, "b": link.b_id, "cause": {"type": link.cause_type, "ref": link.cause_ref},
                   "created_at": link.created_at} for link in repo.links_among(session, ids) if ids],
        "merges": [_merge_view(m) for m in merges],
        "blocks": [{"a": b.a_id, "b": b.b_id, "actor": b.actor, "created_at": b.created_at}
                   for b in repo.blocks_among(session, ids) if ids],
        "issues": [issue_view(i) for i in repo.issues_of(session, [root])],
    }


def _merge_view(m: Any) -> dict[str, Any]:
    return {"id": m.id, "survivor_id": m.survivor_id, "merged_id": m.merged_id, "identity_ids": m.identity_ids,
            "via_identity_ids": m.via_identity_ids, "cause": {"type": m.cause_type, "ref": m.cause_ref},
            "actor": m.actor, "reason": m.reason, "created_at": m.created_at, "undone_at": m.undone_at,
            "undone_by": m.undone_by}


def issue_view(i: Any) -> dict[str, Any]:
    """Return the API shape of a review-queue entry."""
    return {"id": i.id, "category": i.category, "kind": i.kind, "value": i.value_masked,
            "customer_id": i.customer_id, "other_customer_id": i.other_customer_id,
            "cause": {"type": i.cause_type, "ref": i.cause_ref}, "detail": i.detail, "status": i.status,
            "created_at": i.created_at, "resolved_at": i.resolved_at, "resolved_by": i.resolved_by,
            "resolution": i.resolution}


def merge_customers(session: Session, ctx: IdentityContext, survivor_id: int, merged_id: int, *, actor: str,
                    reason: str, force: bool = False) -> dict[str, Any]:
    """Merge two customers by hand; unique-kind conflicts and blocks refuse unless ``force``."""
    lock(session)
    a, b = live_customer_id(session, survivor_id), live_customer_id(session, merged_id)
    if a == b:
        raise Conflict("these customers are already one customer", code="already_merged")
    a_ids, b_ids = repo.identities(session, a), repo.identities(session, b)
    if not force:
        for kind in sorted(ctx.kinds.unique):
            va = {i.lookup for i in a_ids if i.kind == kind}
            vb = {i.lookup for i in b_ids if i.kind == kind}
            if va and vb and va != vb:
                raise Conflict(f"both customers hold a different {kind}; pass force to merge anyway",
                               code="unique_identity_conflict", kind=kind)
        blocks = repo.block_pairs(session, [i.id for i in a_ids])
        if any((min(x.id, y.id), max(x.id, y.id)) in blocks for x in a_ids for y in b_ids):
            raise Conflict("an operator split these customers apart; pass force to merge anyway", code="blocked_by_split")
    now = utcnow()
    survivor, other = min(a, b), max(a, b)
    brought = b_ids if other == b else a_ids
    stay = a_ids if other == b else b_ids
    repo.absorb_profiles(session, [(survivor, other)], now)
    repo.move_identities(session, {survivor: [i.id for i in brought]})
    repo.mark_merged_many(session, [(other, survivor)], now)
    via = sorted({stay[0].id, brought[0].id}) if stay and brought else []
    cause = f"by {actor}"
    repo.insert_merges(session, [{"survivor_id": survivor, "merged_id": other, "identity_ids": [i.id for i in brought],
                                  "via_identity_ids": via, "cause_type": "manual", "cause_ref": cause,
                                  "actor": actor, "reason": reason, "created_at": now}])
    if via:
        repo.insert_links(session, [{"a_id": via[0], "b_id": via[1], "cause_type": "manual", "cause_ref": cause,
                                     "created_at": now}])
    audit(session, actor, "customer.merge", "customer", survivor, {"merged_id": other, "reason": reason, "force": force})
    return {"customer_id": survivor, "merged_id": other}


def undo_merge(session: Session, merge_id: int, *, actor: str, reason: str,
               customer_id: int | None = None) -> dict[str, Any]:
    """Unmerge: give the merged customer back the identities it brought (and their facts).

    With ``customer_id`` (the HTTP path), the merge must concern that customer.
    """
    lock(session)
    m = repo.merge(session, merge_id)
    if m is None:
        raise NotFound(f"merge {merge_id} does not exist", code="merge_not_found")
    if customer_id is not None and live_customer_id(session, customer_id) not in (
            live_customer_id(session, m.survivor_id), m.merged_id):
        raise NotFound(f"merge {merge_id} does not concern customer {customer_id}", code="merge_not_found")
    if m.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone", code="merge_already_undone")
    root = live_customer_id(session, m.survivor_id)
    current = {i.id: i for i in repo.identities(session, root)}
    back = [iid for iid in m.identity_ids if iid in current]
    stay = [iid for iid in current if iid not in set(back)]
    if not back or not stay:
        raise Conflict("nothing left to separate: the identities of this merge moved since", code="merge_not_separable")
    now = utcnow()
    repo.revive(session, m.merged_id, now)
    repo.move_identities(session, {m.merged_id: back})
    m.undone_at, m.undone_by = now, actor
    session.flush()
    _repoint_after_undo(session, root, m.merged_id, now)
    repo.insert_blocks(session, [{"a_id": min(x, y), "b_id": max(x, y), "actor": actor, "created_at": now}
                                 for x in back for y in stay])
    audit(session, actor, "customer.unmerge", "customer", m.merged_id, {"merge_id": merge_id, "reason": reason})
    return {"customer_id": root, "restored_id": m.merged_id, "identity_ids": back}


def _repoint_after_undo(session: Session, root: int, revived: int, now: datetime) -> None:
    """Tombstones that reached ``root`` through ``revived`` point at ``revived`` again."""
    tomb = [t for t in repo.tombstones_of(session, root) if t != revived]
    parents = repo.active_merge_parents(session, tomb)
    moved = []
    for t in tomb:
        node, seen = t, set()
        while node in parents and node not in seen:
            seen.add(node)
            node = parents[node]
            if node == revived:
                moved.append(t)
                break
    repo.repoint_tombstones(session, moved, revived, now)


def split_identities(session: Session, customer_id: int, identity_ids: list[int], *, actor: str,
                     reason: str) -> dict[str, Any]:
    """Move identities (and the facts anchored on them) out into a new customer; block re-linking."""
    lock(session)
    root = live_customer_id(session, customer_id)
    current = {i.id: i for i in repo.identities(session, root)}
    unknown = [i for i in identity_ids if i not in current]
    if unknown:
        raise ValidationFailed(f"identities {unknown} do not belong to customer {root}", code="identity_not_held")
    stay = [i for i in current if i not in set(identity_ids)]
    if not identity_ids or not stay:
        raise ValidationFailed("choose some but not all of the customer's identities to split off", code="invalid_split")
    now = utcnow()
    first = min(current[i].created_at for i in identity_ids)
    [new_id] = repo.insert_customers(session, [{"first_seen_at": first, "created_at": now, "updated_at": now,
                                                "gender": "unknown", "attributes": {}}])
    repo.move_identities(session, {new_id: list(identity_ids)})
    repo.insert_blocks(session, [{"a_id": min(x, y), "b_id": max(x, y), "actor": actor, "created_at": now}
                                 for x in identity_ids for y in stay])
    audit(session, actor, "customer.split", "customer", root, {"new_customer_id": new_id,
                                                               "identity_ids": identity_ids, "reason": reason})
    return {"customer_id": root, "new_customer_id": new_id, "identity_ids": list(identity_ids)}


def list_issues(session: Session, *, status: str | None = "open", category: str | None = None, limit: int = 50,
                before: int | None = None) -> list[dict[str, Any]]:
    """Return the review queue, newest first."""
    return [issue_view(i) for i in repo.issues(session, status=status, category=category, limit=limit, before=before)]


def resolve_issue(session: Session, issue_id: int, *, actor: str, resolution: str, status: str = "resolved") -> dict[str, Any]:
    """Close a review entry with a note (merging or splitting is a separate, audited action)."""
    if status not in ("resolved", "dismissed"):
        raise ValidationFailed("status must be resolved or dismissed", code="invalid_status")
    row = repo.issue(session, issue_id)
    if row is None:
        raise NotFound(f"review item {issue_id} does not exist", code="issue_not_found")
    if row.status != "open":
        raise Conflict(f"review item {issue_id} is already {row.status}", code="issue_already_closed")
    row.status, row.resolved_at, row.resolved_by, row.resolution = status, utcnow(), actor, resolution
    session.flush()
    audit(session, actor, "identity_issue.resolve", "identity_issue", issue_id, {"status": status})
    return issue_view(row)
