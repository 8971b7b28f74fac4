"""The identity graph of a bulk load, resolved in memory by the OneID resolver's rules.

The bulk loader (:mod:`siyu.domains.ingest.bulk`) is the only writer of a fresh database, so the
graph it builds need not be read back from SQL batch after batch: it is held here, whole, and
written once. :meth:`MemoryGraph.resolve` takes one resolver call's facts and does exactly what
:meth:`siyu.domains.identity.resolver.Resolver.resolve` would do on the rows written so far:

* a fact whose identities all existed before the call, in one customer, changes nothing;
* the others are applied in order: unknown identities are created; customers named together
  merge into the oldest (existing customers by id, then this call's new ones by creation) unless
  a unique-per-person kind holds a different value on each side (a conflict for review); a new
  identity of a unique kind its customer already holds another value of becomes its own customer
  (a conflict too); a fact that changed the graph links its anchor to its other identities;
* at the end of the call, new live customers and new identities get the next ids in creation
  order, merged survivors absorb the merged customers' empty profile fields and earlier first
  sighting, and merges, links and review entries are recorded with the fact that caused them.

The rules are written a second time here rather than shared with ``resolver.py``: the resolver
works on the slice of the graph one batch touches, loaded from and written back to SQL, while this
graph lives whole in memory for a load (no look-ups, ids known, rows written once); the property
test below keeps the two equal.

Rows go to the database with :meth:`MemoryGraph.flush` (new rows, as they stand) and
:meth:`MemoryGraph.finish` (the rest, and updates of rows that changed after they were flushed).
``tests/demo`` requires the same tables as the services leave, and
``tests/domains/ingest/test_bulk_graph.py`` the same answers and rows as the SQL resolver for
random fact sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from siyu.domains.identity import KindRegistry
from siyu.domains.ingest import bulk_repository as repo
from siyu.domains.ingest.bulk_history import Clock, json_text
from siyu.kit.crypto import PiiVault

Item = tuple[Any, str, str, str]  # (kind spec, kind, normalised value, blind index)
Fact = tuple[str, str, int, Sequence[Item]]  # cause type, cause ref, epoch seconds, identities
Placed = tuple[int, int, dict[str, int]]  # anchor identity id, customer id, {kind: identity id}

CUSTOMER_COLS = ("id", "merged_into_id", "name_enc", "name_idx", "name_masked", "gender", "birthday", "region", "city",
                 "source_platform", "source_channel_code_id", "first_seen_at", "attributes", "created_at", "updated_at")
IDENTITY_COLS = ("id", "kind", "lookup", "value", "value_enc", "masked", "customer_id", "origin_customer_id",
                 "cause_type", "cause_ref", "created_at")
MERGE_COLS = ("id", "survivor_id", "merged_id", "identity_ids", "via_identity_ids", "cause_type", "cause_ref", "actor",
              "reason", "created_at")
LINK_COLS = ("id", "a_id", "b_id", "cause_type", "cause_ref", "created_at")
ISSUE_COLS = ("id", "category", "kind", "value_masked", "customer_id", "other_customer_id", "cause_type", "cause_ref",
              "detail", "status", "created_at")
ABSORBED = 9  # profile fields a survivor fills from a merged customer: name_enc … source_channel_code_id
GENDER = 3


class _Cust:
    __slots__ = ("id", "seq", "idents", "merged_into", "seen", "profile", "attributes", "created", "updated",
                 "flushed", "dirty")

    def __init__(self, seq: int, seen: int):
        self.id: int | None = None
        self.seq = seq
        self.idents: list[_Ident] = []
        self.merged_into: _Cust | None = None
        self.seen = seen  # first_seen_at, epoch seconds
        # name_enc, name_idx, name_masked, gender, birthday, region, city, source_platform, source_channel_code_id
        self.profile: list[Any] = [None, None, None, "unknown", None, None, None, None, None]
        self.attributes = "{}"
        self.created = self.updated = None
        self.flushed = self.dirty = False

    def order(self) -> tuple[int, int]:
        return (0, self.id) if self.id is not None else (1, self.seq)

    def root(self) -> _Cust:
        node = self
        while node.merged_into is not None:
            node = node.merged_into
        return node

    def values(self, kind: str) -> set[str]:
        return {i.lookup for i in self.idents if i.kind == kind}


class _Ident:
    """One identity; ``cust`` is always a live customer (a merge repoints every identity it moves)."""

    __slots__ = ("id", "kind", "lookup", "value", "spec", "cust", "origin", "cause", "created", "written")

    def __init__(self, kind: str, lookup: str, value: str, spec: Any, cust: _Cust, cause: tuple[str, str]):
        self.id: int | None = None
        self.kind, self.lookup, self.value, self.spec, self.cust, self.cause = kind, lookup, value, spec, cust, cause
        self.origin = 0
        self.created: datetime | None = None
        self.written = 0  # the customer id the row was flushed with (0: not flushed)


class _Call:
    """What one resolver call changed (the resolver's plan)."""

    __slots__ = ("new_custs", "new_idents", "merges", "links", "issues")

    def __init__(self) -> None:
        self.new_custs: list[_Cust] = []
        self.new_idents: list[_Ident] = []
        self.merges: list[tuple[_Cust, _Cust, list[_Ident], list[_Ident], tuple[str, str]]] = []
        self.links: dict[tuple[int, int], tuple[_Ident, _Ident, str, str]] = {}
        self.issues: list[tuple[Any, ...]] = []


class MemoryGraph:
    """Customers, identities, merges, links and review entries of one bulk load, in memory."""

    def __init__(self, kinds: KindRegistry, vault: PiiVault, tops: dict[str, int]):
        self.kinds, self.vault = kinds, vault
        self.unique_order = tuple(sorted(kinds.unique))  # the resolver's order
        self.idents: dict[str, _Ident] = {}
        self.base = tops["customers"]
        self.customers: list[_Cust] = []  # customer id base + n + 1 at n
        self.identity_rows: list[_Ident] = []
        self.top_identity = tops["identities"]
        self.merges: list[tuple[Any, ...]] = []
        self.top_merge = tops["merges"]
        self.link_pairs: set[tuple[int, int]] = set()
        self.links: list[tuple[Any, ...]] = []
        self.top_link = tops["identity_links"]
        self.issues: list[tuple[Any, ...]] = []
        self.top_issue = tops["identity_issues"]
        self.seq = 0
        self.flushed = {"customers": 0, "identities": 0, "merges": 0, "links": 0, "issues": 0}

    # -- reading --------------------------------------------------------------------------------------
    def customer(self, customer_id: int) -> _Cust:
        """Return the customer with this id (live or merged)."""
        return self.customers[customer_id - self.base - 1]

    def root_id(self, customer_id: int) -> int:
        """Return the live customer ``customer_id`` now stands for."""
        return self.customer(customer_id).root().id  # type: ignore[return-value]

    def steady(self, items: Sequence[Item]) -> Placed | None:
        """Answer a fact whose identities all exist in one customer (it changes nothing), else None.

        Between calls every identity has its id.
        """
        anchor = self._settled(items)
        if anchor is None:
            return None
        idents = self.idents
        return anchor.id, anchor.cust.id, {kind: idents[lookup].id for _s, kind, _v, lookup in items}  # type: ignore[return-value]

    # -- one resolver call ----------------------------------------------------------------------------
    def resolve(self, facts: Sequence[Fact], now: datetime, *, unsteady: bool = False) -> list[Placed]:
        """Resolve one call's facts in order; return where each landed (as Resolver.resolve does).

        ``unsteady``: the caller has checked that no fact is :meth:`steady`.
        """
        kept: dict[int, _Cust] = {}
        quiet: dict[int, Placed] = {}
        for n, fact in enumerate(() if unsteady else facts):  # decided on the graph as the call found it
            hit = self.steady(fact[3])
            if hit is not None:
                quiet[n] = hit
                kept[n] = self.customer(hit[1])
        call = _Call()
        anchors: dict[int, _Ident] = {}
        settled: dict[int, _Ident] = {}  # by identity-set object: identities that sit together stay together
        for n, fact in enumerate(facts):
            if n in quiet:
                continue
            items = fact[3]
            anchor = settled.get(id(items))
            if anchor is None:
                anchor = self._settled(items)
                if anchor is None:
                    anchor = self._apply(call, fact)
                else:
                    settled[id(items)] = anchor
            anchors[n] = anchor
        self._persist(call, now)
        out: list[Placed] = []
        idents = self.idents
        for n, fact in enumerate(facts):
            anchor = anchors.get(n)
            if anchor is None:
                out.append((quiet[n][0], kept[n].root().id, quiet[n][2]))  # type: ignore[arg-type]
                continue
            home = anchor.cust
            ids = {kind: i.id for _s, kind, _v, lookup in fact[3] if (i := idents[lookup]).cust is home}
            out.append((anchor.id, home.id, ids))  # type: ignore[arg-type]
        return out

    def _settled(self, items: Sequence[Item]) -> _Ident | None:
        """Return the anchor of a fact whose identities all exist in one customer now (a repeat in the call).

        Applying it would change nothing either: no identity to create, no customer to merge, no link.
        """
        get = self.idents.get
        home = anchor = None
        best: tuple[int, str] | None = None
        for spec, kind, _value, lookup in items:
            ident = get(lookup)
            if ident is None:
                return None
            if home is None:
                home = ident.cust
            elif ident.cust is not home:
                return None
            key = (spec.specificity, kind)
            if best is None or key > best:
                best, anchor = key, ident
        return anchor

    def _apply(self, call: _Call, fact: Fact) -> _Ident:
        cause = (fact[0], fact[1])
        entries = fact[3]
        get = self.idents.get
        known = [i for e in entries if (i := get(e[3])) is not None]
        changed = False
        if not known:
            home = self._new_cust(call, fact[2])
        elif all(i.cust is known[0].cust for i in known):
            home = known[0].cust  # one customer: nothing to merge
        else:
            roots = sorted({id(i.cust): i.cust for i in known}.values(), key=_Cust.order)
            home = roots[0]
            for other in roots[1:]:
                kind = self._conflict_kind(home, other)
                if kind:
                    call.issues.append(("conflict", kind, "", home, other, cause, {
                        "reason": f"both hold a different {kind}",
                        "identity_ids": sorted(i.id for i in home.idents if i.kind == kind and i.id is not None),
                        "other_identity_ids": sorted(i.id for i in other.idents if i.kind == kind and i.id is not None)}))
                    continue
                via = [i for i in known if i.cust is home or i.cust is other]
                self._merge(call, home, other, via, cause)
                changed = True
        members: list[_Ident] = []
        unique = self.kinds.unique
        for spec, kind, value, lookup in entries:
            ident = get(lookup)
            if ident is None:
                if kind in unique and home.values(kind):
                    loner = self._new_cust(call, fact[2])
                    self._new_ident(call, spec, kind, value, lookup, loner, cause)
                    call.issues.append(("conflict", kind, spec.mask(value), home, loner, cause,
                                        {"reason": f"customer already holds another {kind}; kept as a separate customer"}))
                    continue
                ident = self._new_ident(call, spec, kind, value, lookup, home, cause)
                changed = True
            if ident.cust is home:
                members.append(ident)
        anchor = _most_specific(members)
        if changed:
            for ident in members:
                if ident is not anchor:
                    call.links.setdefault((id(anchor), id(ident)), (anchor, ident, *cause))
        return anchor

    def _conflict_kind(self, a: _Cust, b: _Cust) -> str | None:
        for kind in self.unique_order:
            va, vb = a.values(kind), b.values(kind)
            if va and vb and va != vb:
                return kind
        return None

    def _new_cust(self, call: _Call, t: int) -> _Cust:
        self.seq += 1
        cust = _Cust(self.seq, t)
        call.new_custs.append(cust)
        return cust

    def _new_ident(self, call: _Call, spec: Any, kind: str, value: str, lookup: str, cust: _Cust,
                   cause: tuple[str, str]) -> _Ident:
        ident = _Ident(kind, lookup, value, spec, cust, cause)
        cust.idents.append(ident)
        self.idents[lookup] = ident
        call.new_idents.append(ident)
        return ident

    @staticmethod
    def _merge(call: _Call, survivor: _Cust, other: _Cust, via: list[_Ident], cause: tuple[str, str]) -> None:
        brought = list(other.idents)
        for ident in brought:
            ident.cust = survivor
        survivor.idents.extend(brought)
        other.idents = []
        other.merged_into = survivor
        if survivor.id is None and other.seen < survivor.seen:  # both new in this call (older ones sort first)
            survivor.seen = other.seen
        if other.id is not None:
            call.merges.append((survivor, other, brought, via, cause))

    def _persist(self, call: _Call, now: datetime) -> None:
        """Give ids, absorb profiles and record merges, links and review entries, as the resolver writes them."""
        for cust in call.new_custs:
            if cust.merged_into is None and cust.idents:
                cust.id = self.base + len(self.customers) + 1
                cust.created = cust.updated = now
                self.customers.append(cust)
        for ident in call.new_idents:
            ident.id = self.top_identity + len(self.identity_rows) + 1
            ident.origin = ident.cust.id  # type: ignore[assignment]
            ident.created = now
            self.identity_rows.append(ident)
        for survivor, other, brought, via, (ctype, cref) in call.merges:
            self._absorb(survivor, other, now)
            self.merges.append((self.top_merge + len(self.merges) + 1, survivor.id, other.id,
                                sorted(i.id for i in brought), sorted({i.id for i in via}), ctype, cref[:160],
                                None, None, now))
        for cust in {id(o): o for _s, o, *_r in call.merges}.values():
            self._touch(cust, now)
        seen: set[tuple[int, int]] = set()
        for a, b, ctype, cref in call.links.values():
            if a.id == b.id:
                continue
            pair = (min(a.id, b.id), max(a.id, b.id))  # type: ignore[type-var]
            if pair in seen:
                continue
            seen.add(pair)  # type: ignore[arg-type]
            if pair not in self.link_pairs:  # the resolver's insert skips pairs already linked
                self.link_pairs.add(pair)  # type: ignore[arg-type]
                self.links.append((self.top_link + len(self.links) + 1, *pair, ctype, cref[:160], now))
        for category, kind, masked, a, b, (ctype, cref), detail in call.issues:
            self.add_issues([(category, kind, masked, a.root().id if a else None, b.root().id if b else None, ctype,
                              cref[:160], detail, "open", now)])

    def _absorb(self, survivor: _Cust, merged: _Cust, now: datetime) -> None:
        into, src = survivor.profile, merged.profile
        for n in range(ABSORBED):
            if into[n] is None or (n == GENDER and into[n] == "unknown"):
                into[n] = src[n]
        survivor.seen = min(survivor.seen, merged.seen)
        self._touch(survivor, now)

    @staticmethod
    def _touch(cust: _Cust, now: datetime) -> None:
        cust.updated = now
        cust.dirty = cust.flushed

    # -- what the loader writes besides the resolver -------------------------------------------------
    def add_issues(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Record review entries (ISSUE_COLS after id; junk warnings the loader refuses)."""
        for row in rows:
            self.issues.append((self.top_issue + len(self.issues) + 1, *row))

    def set_source_if_empty(self, customer_id: int, code_id: int | None, platform: str | None, now: datetime) -> None:
        """Record a first-touch source on a customer that has none."""
        cust = self.customer(customer_id)
        if cust.profile[7] is None and cust.profile[8] is None:
            cust.profile[7], cust.profile[8] = platform, code_id
            self._touch(cust, now)

    def set_profile(self, customer_id: int, values: Sequence[Any], attributes: str, now: datetime) -> None:
        """Write a CRM profile: name_enc, name_idx, name_masked, gender, birthday, region, city; attributes JSON."""
        cust = self.customer(customer_id)
        cust.profile[:7] = values
        cust.attributes = attributes
        self._touch(cust, now)

    # -- writing --------------------------------------------------------------------------------------
    def flush(self, conn: Connection) -> None:
        """Append the rows created since the last flush, as they stand now."""
        clock = Clock(repo.is_sqlite(conn))
        done = self.flushed
        fresh = self.customers[done["customers"]:]
        repo.insert_rows(conn, "customers", CUSTOMER_COLS, [self._customer_row(c, clock) for c in fresh],
                         ("first_seen_at",))
        for cust in fresh:
            cust.flushed, cust.dirty = True, False
        idents = self.identity_rows[done["identities"]:]
        repo.insert_rows(conn, "identities", IDENTITY_COLS, [self._identity_row(i, clock) for i in idents])
        for table, cols, json_at, wall_at in _RECORDS:
            key = table.replace("identity_", "")
            rows = getattr(self, key)
            repo.insert_rows(conn, table, cols, [_stored(r, clock, json_at, wall_at) for r in rows[done[key]:]])
            done[key] = len(rows)
        done["customers"], done["identities"] = len(self.customers), len(self.identity_rows)

    def finish(self, conn: Connection) -> None:
        """Write every row not flushed yet and update the flushed ones that changed since."""
        clock = Clock(repo.is_sqlite(conn))
        changed = [c for c in self.customers[:self.flushed["customers"]] if c.dirty or c.merged_into is not None]
        self.flush(conn)
        repo.update_rows(conn, "customers", CUSTOMER_COLS, [self._customer_row(c, clock) for c in changed],
                         ("first_seen_at",))
        moved = [(i.id, i.cust.id) for i in self.identity_rows if i.written and i.written != i.cust.id]
        repo.update_rows(conn, "identities", ("id", "customer_id"), moved)
        repo.sync_sequences(conn, ("customers", "identities", "merges", "identity_links", "identity_issues"))

    def _customer_row(self, c: _Cust, clock: Clock) -> tuple[Any, ...]:
        p = c.profile
        birthday = p[4].isoformat() if clock.sqlite and isinstance(p[4], date) else p[4]
        root = c.root()
        return (c.id, root.id if root is not c else None, p[0], p[1], p[2], p[3], birthday, p[5], p[6], p[7], p[8],
                clock(c.seen), c.attributes, clock.wall(c.created), clock.wall(c.updated))  # type: ignore[arg-type]

    def _identity_row(self, i: _Ident, clock: Clock) -> tuple[Any, ...]:
        spec, value = i.spec, i.value
        i.written = i.cust.id  # type: ignore[assignment]
        return (i.id, i.kind, i.lookup, None if spec.pii else value, self.vault.encrypt(value) if spec.pii else None,
                spec.mask(value), i.written, i.origin, i.cause[0], i.cause[1][:160],
                clock.wall(i.created))  # type: ignore[arg-type]


def _most_specific(idents: list[_Ident]) -> _Ident:
    """Return the identity that anchors a fact: the most specific, the first of equals (as max() picks)."""
    anchor = idents[0]
    best = (anchor.spec.specificity, anchor.kind)
    for ident in idents:
        key = (ident.spec.specificity, ident.kind)
        if key > best:
            best, anchor = key, ident
    return anchor


# table, its columns, the positions of its JSON columns and of its wall-clock columns
_RECORDS = (("merges", MERGE_COLS, (3, 4), (9,)), ("identity_links", LINK_COLS, (), (5,)),
            ("identity_issues", ISSUE_COLS, (8,), (10,)))


def _stored(row: tuple[Any, ...], clock: Clock, json_at: tuple[int, ...], wall_at: tuple[int, ...]) -> tuple[Any, ...]:
    """Return a merge, link or issue row with its JSON and time columns in storage form (only those can hold them)."""
    out = list(row)
    for n in json_at:
        if isinstance(out[n], (list, dict)):
            out[n] = json_text(out[n])
    for n in wall_at:
        if isinstance(out[n], datetime):
            out[n] = clock.wall(out[n])
    return tuple(out)
