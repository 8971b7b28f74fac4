"""Batch OneID resolution: many facts' identity sets → one customer per person.

Works set-at-a-time so ingestion can resolve thousands of facts with a handful of statements:
one look-up of every identity in the batch, one load of the customers involved, then an in-memory
union over the facts in order, then bulk writes. The caller holds the graph lock
(:func:`repository.lock_graph`) so the in-memory view cannot go stale.

Rules, in order, for each fact:
1. Identities not seen before are created; identities seen before name their customers.
2. Two customers named by one fact merge into the older one, unless a kind that is unique per
   person (phone, unionid, member_no, app_user_id by default) has a different value on each side,
   or an operator blocked the pair: then nothing merges and a conflict goes to review.
3. A new identity of a unique kind whose customer already holds another value of that kind becomes
   its own customer, with a conflict for review (nothing is silently attached).
4. The fact is anchored on its most specific identity within the resolved customer.
Every link and merge records the fact (cause) that made it.

Facts whose identities are all new and named by no other fact of the batch may come as columns
(:class:`~siyu.domains.identity.fresh.FreshFacts`): they are written without graph objects, with
the ids and rows this pass would have given them in their place of the batch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from siyu.db.bulk import is_postgres
from siyu.domains.identity import repository as repo
from siyu.domains.identity.fresh import FreshFacts, Made, fresh_rows, interleave, stored_time
from siyu.domains.identity.kinds import KindRegistry, KindSpec
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow


@dataclass(slots=True)
class FactIdentities:
    """The normalised identities of one fact and the fact's reference for explanations."""

    cause_type: str  # event | order | import | manual
    cause_ref: str
    occurred_at: datetime
    items: list[tuple[KindSpec, str, str, str]]  # (spec, kind, normalised value, blind index)


class Resolved(NamedTuple):
    """Where one fact landed (a tuple: built once per fact, cheaper than a frozen dataclass)."""

    anchor_id: int
    customer_id: int
    identity_ids: dict[str, int]


_seq = itertools.count()


class _Cust:
    __slots__ = ("id", "order", "idents", "merged_into", "first_seen", "loaded", "at")

    def __init__(self, cid: int | None, first_seen: datetime | None = None, at: int = 0):
        self.id = cid
        self.at = at  # a new customer: the place of the fact that created it in the batch
        self.order: tuple[int, int] = (0, cid) if cid is not None else (1, next(_seq))
        self.idents: list[_Ident] = []
        self.merged_into: _Cust | None = None
        self.first_seen = first_seen
        self.loaded = cid is None  # new customers are fully known

    def root(self) -> _Cust:
        node = self
        while node.merged_into is not None:
            node = node.merged_into
        return node

    def values(self, kind: str) -> set[str]:
        return {i.lookup for i in self.idents if i.kind == kind}


class _Ident:
    __slots__ = ("id", "kind", "lookup", "value", "spec", "cust", "home_id", "cause", "at")

    def __init__(self, iid: int | None, kind: str, lookup: str, cust: _Cust, home_id: int | None):
        self.id = iid
        self.kind = kind
        self.lookup = lookup
        self.cust = cust
        self.home_id = home_id  # customer_id in the database before this batch
        self.value: str | None = None
        self.spec: KindSpec | None = None
        self.cause: tuple[str, str, datetime] | None = None
        self.at = 0  # a new identity: the place of the fact that created it in the batch


@dataclass
class _Plan:
    idents: dict[str, _Ident] = field(default_factory=dict)
    custs: dict[int, _Cust] = field(default_factory=dict)
    new_custs: list[_Cust] = field(default_factory=list)
    merges: list[tuple[_Cust, _Cust, list[_Ident], list[_Ident], tuple[str, str]]] = field(default_factory=list)
    links: dict[tuple[int, int], tuple[_Ident, _Ident, str, str, int]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    blocks: set[tuple[int, int]] = field(default_factory=set)
    at: int = 0  # the place in the batch of the fact being applied


class Resolver:
    """Resolve batches of facts against the identity graph."""

    def __init__(self, session: Session, vault: PiiVault, kinds: KindRegistry):
        self.session = session
        self.vault = vault
        self.kinds = kinds
        # checked in name order, as a manual merge checks them: with several differing, the review entry names
        # the same kind in every process (a frozenset's order changes with the hash seed)
        self.unique_order = tuple(sorted(kinds.unique))

    # -- loading -------------------------------------------------------------------------
    def _load(self, plan: _Plan, facts: list[FactIdentities],
              known: dict[str, Any] | None = None) -> tuple[list[int], list[Resolved | None]]:
        """Look up every identity of the batch; return the facts that need the full pass, and the others' answers.

        A fact whose identities all exist and all belong to one customer changes nothing (no new
        identity, no merge, no link): it is answered from the look-up alone, in the same loop that
        sorts the facts, without building the in-memory graph (its customer id is brought up to
        date after the batch's merges). Only the other facts' identities become graph nodes.
        """
        if known is None:
            lookups = {item[3] for f in facts for item in f.items}
            known = {row[2]: row for row in repo.identities_by_lookup(self.session, lookups)}
        found = known  # lookup → (id, kind, lookup, customer)
        complex_facts: list[int] = []
        answers: list[Resolved | None] = []
        for n, fact in enumerate(facts):
            cid = anchor = 0
            best = (-1, "")
            ids: dict[str, int] = {}
            for spec, kind, _value, lookup in fact.items:
                hit = found.get(lookup)
                if hit is None or (ids and hit[3] != cid):
                    complex_facts.append(n)
                    answers.append(None)
                    break
                cid = hit[3]
                ids[kind] = hit[0]
                if (spec.specificity, kind) > best:  # the most specific identity anchors the fact
                    best, anchor = (spec.specificity, kind), hit[0]
            else:
                answers.append(Resolved(anchor, cid, ids))
        for n in complex_facts:
            for *_x, lookup in facts[n].items:
                hit = found.get(lookup)
                if hit is not None and lookup not in plan.idents:
                    iid, kind, _lookup, cid = hit
                    cust = plan.custs.get(cid) or plan.custs.setdefault(cid, _Cust(cid))
                    ident = _Ident(iid, kind, lookup, cust, cid)
                    cust.idents.append(ident)
                    plan.idents[lookup] = ident
        return complex_facts, answers

    def _prefetch(self, plan: _Plan, facts: list[FactIdentities]) -> None:
        """Complete, in one statement, every customer a fact may merge or attach a new identity to."""
        todo: dict[int, _Cust] = {}
        for fact in facts:
            known = [plan.idents[lk] for *_x, lk in fact.items if lk in plan.idents]
            custs = {id(i.cust): i.cust for i in known}
            if len(custs) > 1 or (custs and len(known) < len(fact.items)):
                todo.update(custs)
        self._complete(plan, list(todo.values()))

    def _complete(self, plan: _Plan, custs: list[_Cust]) -> None:
        """Load every identity of existing customers about to take part in a merge or attach."""
        todo = [c for c in custs if not c.loaded]
        if not todo:
            return
        fresh: list[int] = []
        for iid, kind, lookup, cid in repo.identities_of_customers(self.session, [c.id for c in todo]):
            fresh.append(iid)
            if lookup in plan.idents:
                continue
            cust = plan.custs[cid]
            ident = _Ident(iid, kind, lookup, cust, cid)
            cust.idents.append(ident)
            plan.idents[lookup] = ident
        for cust in todo:
            cust.loaded = True
        plan.blocks.update(repo.block_pairs(self.session, fresh))

    # -- rules ---------------------------------------------------------------------------
    def _conflict_kind(self, a: _Cust, b: _Cust) -> str | None:
        for kind in self.unique_order:
            va, vb = a.values(kind), b.values(kind)
            if va and vb and va != vb:
                return kind
        return None

    @staticmethod
    def _blocked(plan: _Plan, a: _Cust, b: _Cust) -> bool:
        """Return whether an operator split any identity of ``a`` from one of ``b`` (blocks of every
        completed customer are loaded with it, and both sides of a merge are completed first)."""
        if not plan.blocks:
            return False
        right = {i.id for i in b.idents if i.id is not None}
        return any((min(x, y), max(x, y)) in plan.blocks for x in (i.id for i in a.idents if i.id is not None)
                   for y in right)

    def _issue(self, plan: _Plan, category: str, kind: str, masked: str, a: _Cust | None, b: _Cust | None,
               fact: FactIdentities, detail: dict[str, Any]) -> None:
        plan.issues.append({"category": category, "kind": kind, "value_masked": masked, "_a": a, "_b": b,
                            "cause_type": fact.cause_type, "cause_ref": fact.cause_ref, "detail": detail})

    def _merge(self, plan: _Plan, survivor: _Cust, other: _Cust, via: list[_Ident], fact: FactIdentities) -> None:
        brought = list(other.idents)
        for ident in brought:
            ident.cust = survivor
        survivor.idents.extend(brought)
        other.idents = []
        other.merged_into = survivor
        if other.first_seen and (survivor.first_seen is None or other.first_seen < survivor.first_seen):
            survivor.first_seen = other.first_seen
        if other.id is not None:
            plan.merges.append((survivor, other, brought, via, (fact.cause_type, fact.cause_ref)))

    def _new_ident(self, plan: _Plan, spec: KindSpec, kind: str, value: str, lookup: str, cust: _Cust,
                   fact: FactIdentities) -> _Ident:
        ident = _Ident(None, kind, lookup, cust, None)
        ident.value, ident.spec = value, spec
        ident.cause = (fact.cause_type, fact.cause_ref, fact.occurred_at)
        ident.at = plan.at
        cust.idents.append(ident)
        plan.idents[lookup] = ident
        return ident

    def _new_cust(self, plan: _Plan, fact: FactIdentities) -> _Cust:
        cust = _Cust(None, fact.occurred_at, plan.at)
        plan.new_custs.append(cust)
        return cust

    def _apply(self, plan: _Plan, fact: FactIdentities) -> _Ident:
        entries = fact.items
        known = [plan.idents[lk] for *_x, lk in entries if lk in plan.idents]
        roots = sorted({id(i.cust.root()): i.cust.root() for i in known}.values(), key=lambda c: c.order)
        changed = False
        if not roots:
            home = self._new_cust(plan, fact)
        else:
            if len(roots) > 1 or len(known) < len(entries):
                self._complete(plan, roots)
            home = roots[0]
            for other in roots[1:]:
                kind = self._conflict_kind(home, other)
                if kind or self._blocked(plan, home, other):
                    self._issue(plan, "conflict" if kind else "blocked", kind or "*", "", home, other, fact, {
                        "reason": f"both hold a different {kind}" if kind else "an operator split these identities",
                        "identity_ids": sorted(i.id for i in home.idents if i.kind == kind and i.id is not None),
                        "other_identity_ids": sorted(i.id for i in other.idents if i.kind == kind and i.id is not None)})
                    continue
                via = [i for i in known if i.cust.root() in (home, other)]
                self._merge(plan, home, other, via, fact)
                changed = True
        members: list[_Ident] = []
        for spec, kind, value, lookup in entries:
            ident = plan.idents.get(lookup)
            if ident is None:
                if self.kinds.is_unique(kind) and home.values(kind):
                    loner = self._new_cust(plan, fact)
                    self._new_ident(plan, spec, kind, value, lookup, loner, fact)
                    self._issue(plan, "conflict", kind, spec.mask(value), home, loner, fact,
                                {"reason": f"customer already holds another {kind}; kept as a separate customer"})
                    continue
                ident = self._new_ident(plan, spec, kind, value, lookup, home, fact)
                changed = True
            if ident.cust.root() is home:
                members.append(ident)
        anchor = max(members, key=lambda i: (self.kinds.spec(i.kind).specificity, i.kind))
        if changed:
            for ident in members:
                if ident is not anchor:
                    plan.links.setdefault((id(anchor), id(ident)),
                                          (anchor, ident, fact.cause_type, fact.cause_ref, plan.at))
        return anchor

    # -- writing -------------------------------------------------------------------------
    def _persist(self, plan: _Plan, now: datetime, fresh: FreshFacts | None) -> Made:
        """Write the plan (and the fresh facts, their rows placed among the plan's); return the fresh identities."""
        postgres = is_postgres(self.session)
        stamp = stored_time(postgres)
        stamped = stamp(now)
        live_new = [c for c in plan.new_custs if c.merged_into is None and c.idents]
        new_idents = [i for i in plan.idents.values() if i.id is None]
        fresh_at = fresh.at if fresh else []
        sizes = fresh.sizes() if fresh else []
        ours, fresh_cids = interleave([c.at for c in live_new], fresh_at,
                                      repo.new_customer_ids(self.session, len(live_new) + len(fresh_at)))
        for cust, cid in zip(live_new, ours, strict=True):
            cust.id = cid
        ours, fresh_iids = interleave([i.at for i in new_idents], [p for p, k in zip(fresh_at, sizes) for _ in range(k)],
                                      repo.new_identity_ids(self.session, len(new_idents) + sum(sizes)))
        for ident, iid in zip(new_idents, ours, strict=True):
            ident.id = iid
        customers = [(c.id, stamp(c.first_seen or now)) for c in live_new]
        idents = [self._identity_row(i) for i in new_idents]
        links = self._link_rows(plan)
        made: Made = {}
        if fresh:
            more_customers, more_idents, more_links, made = fresh_rows(
                fresh, self.kinds, self.vault, fresh_cids, fresh_iids, postgres)
            customers = sorted(customers + more_customers) if customers else more_customers
            idents = sorted(idents + more_idents) if idents else more_idents
            links = sorted(links + more_links, key=lambda x: x[0]) if links else more_links  # stable: batch order
        repo.write_customers(self.session, customers, stamped)
        repo.write_identities(self.session, idents, stamped)
        moves: dict[int, list[int]] = {}
        for ident in plan.idents.values():
            if ident.home_id is not None and ident.cust.root().id != ident.home_id:
                moves.setdefault(ident.cust.root().id, []).append(ident.id)  # type: ignore[arg-type]
        repo.move_identities(self.session, moves)
        self._persist_merges(plan, now)
        repo.write_links(self.session, [row for _at, row in links], stamped)
        repo.insert_issues(self.session, [self._issue_row(i, now) for i in plan.issues])
        return made

    def _identity_row(self, ident: _Ident) -> tuple[Any, ...]:
        spec, value, cause = ident.spec, ident.value, ident.cause
        assert spec is not None and value is not None and cause is not None
        cid = ident.cust.root().id
        return (ident.id, ident.kind, ident.lookup, spec.mask(value), None if spec.pii else value,
                self.vault.encrypt(value) if spec.pii else None, cid, cid, cause[0], cause[1][:160])

    def _persist_merges(self, plan: _Plan, now: datetime) -> None:
        rows = []
        pairs = [(survivor.id, other.id) for survivor, other, *_rest in plan.merges]
        repo.absorb_profiles(self.session, pairs, now)  # type: ignore[arg-type]
        repo.mark_merged_many(self.session, [(other.id, survivor.root().id) for survivor, other, *_r in plan.merges], now)  # type: ignore[misc]
        for survivor, other, brought, via, (ctype, cref) in plan.merges:
            rows.append({"survivor_id": survivor.id, "merged_id": other.id, "identity_ids": sorted(i.id for i in brought),
                         "via_identity_ids": sorted({i.id for i in via}), "cause_type": ctype,
                         "cause_ref": cref[:160], "actor": None, "reason": None, "created_at": now})
        repo.insert_merges(self.session, rows)

    @staticmethod
    def _link_rows(plan: _Plan) -> list[tuple[int, tuple[Any, ...]]]:
        """Return (place in the batch, link row) of each new pair, in the order the facts made them."""
        seen: set[tuple[int, int]] = set()
        rows = []
        for a, b, ctype, cref, place in plan.links.values():
            if a.id == b.id:
                continue
            pair = (min(a.id, b.id), max(a.id, b.id))  # type: ignore[type-var]
            if pair in seen:
                continue
            seen.add(pair)  # type: ignore[arg-type]
            rows.append((place, (*pair, ctype, cref[:160])))
        return rows

    @staticmethod
    def _issue_row(issue: dict[str, Any], now: datetime) -> dict[str, Any]:
        a, b = issue.pop("_a"), issue.pop("_b")
        issue["customer_id"] = a.root().id if a else None
        issue["other_customer_id"] = b.root().id if b else None
        issue["cause_ref"] = issue["cause_ref"][:160]
        issue.update(status="open", created_at=now)
        return issue

    # -- entry point ---------------------------------------------------------------------
    def resolve(self, facts: list[FactIdentities], known: dict[str, Any] | None = None) -> list[Resolved]:
        """Resolve ``facts`` in order and write the graph changes; return where each landed.

        ``known``: the caller's look-up of (at least) these facts' identities in this transaction,
        :func:`identities_by_lookup` as lookup → row, so they are not looked up twice.
        """
        return self.resolve_with_fresh(facts, known, None)[0]

    def resolve_with_fresh(self, facts: list[FactIdentities], known: dict[str, Any] | None,
                           fresh: FreshFacts | None) -> tuple[list[Resolved], Made]:
        """Resolve ``facts`` and ``fresh`` (facts of all-new identities, as columns) as one batch in their places;
        return where each of ``facts`` landed and the fresh facts' identities as the look-up would now find them
        (lookup → id, kind, lookup, customer id: each fresh fact anchors on its most specific one)."""
        plan = _Plan()
        complex_facts, out = self._load(plan, facts, known)
        fresh = fresh if fresh else None
        if not complex_facts and fresh is None:
            return out, {}  # type: ignore[return-value]  # every fact answered by the look-up
        places = fresh.others_at(len(facts)) if fresh is not None else range(len(facts))
        self._prefetch(plan, [facts[n] for n in complex_facts])
        anchors = {}
        for n in complex_facts:
            plan.at = places[n]
            anchors[n] = self._apply(plan, facts[n])
        made = self._persist(plan, utcnow(), fresh)
        for n, fact in enumerate(facts):
            answer = out[n]
            if answer is None:
                out[n] = self._landed(plan, fact, anchors[n])
            elif answer.customer_id in plan.custs:  # its customer took part in a merge of this batch
                out[n] = answer._replace(customer_id=plan.custs[answer.customer_id].root().id)
        return out, made  # type: ignore[return-value]

    @staticmethod
    def _landed(plan: _Plan, fact: FactIdentities, anchor: _Ident) -> Resolved:
        home = anchor.cust.root()
        ids = {}
        for _spec, kind, _value, lookup in fact.items:
            ident = plan.idents[lookup]
            if ident.cust.root() is home:
                ids[kind] = ident.id
        return Resolved(anchor.id, home.id, ids)  # type: ignore[arg-type]
