"""Bulk load of a large, trusted history into an empty database (``siyu demo`` at scale, benchmarks).

It leaves the database the ingestion services leave for the same batches, in the same order
(``tests/demo`` compares both row by row), at a fraction of the cost, because the loader is the
only writer of a fresh database and its input is generated, not received:

* **Identities go through the real OneID resolver.** Each batch's identity-bearing facts are
  resolved in one ``resolve`` call per batch, exactly where the services would call it, except
  facts whose identities the loader already knows to sit together in one customer: those cannot
  change the graph (identities only move together, when customers merge), so their anchor is
  the most specific of them, which is what the resolver would answer. Merges are followed from
  the merge records the resolver writes, so the loader always knows each customer's live root.
* **History is appended, not ingested.** Events, orders, order lines and order facts carry ids the
  caller allocates in the order the services would have produced them, and are written with
  driver-level ``executemany`` / ``COPY`` (:class:`~siyu.domains.ingest.bulk_history.HistoryWriter`), possibly from another process.
* **Derived state is replayed in memory** with the rules of the domains' handlers (channel codes:
  follow relations, first-touch attribution, tags, welcome messages, daily statistics; groups:
  stays; customers: CRM profiles and owners; staff: departures with inheritance) and written
  once at the end. Only what a later resolver call reads is written as it happens: first-touch
  sources and profiles, which a merge carries over to the survivor.

SQL lives in :mod:`siyu.domains.ingest.bulk_repository` (why it is separate is explained there).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from siyu.domains.access import audit
from siyu.domains.channel_codes import service as channel_codes
from siyu.domains.identity import service as identity
from siyu.domains.ingest import bulk_repository as repo
from siyu.domains.ingest.bulk_history import Clock, json_text
from siyu.domains.ingest.service import CONTACT_TYPES, GROUP_TYPES, IngestContext
from siyu.domains.staff import service as staff
from siyu.kit.time import UTC, utcnow

# (kind, normalised value, blind index) of each usable identity in the fact's order; (kind, masked value) of each
# junk one; the position of the most specific identity (the anchor when all sit in one customer)
Norm = tuple[tuple[tuple[str, str, str], ...], tuple[tuple[str, str], ...], int]
EventFact = tuple[str, int, int, str, "dict[str, Any] | None"]  # event_id, t, norm id, type, properties if dispatched
OrderFact = tuple[str, str, int, int]  # order_id, status, t, norm id (facts that carry identities or junk)
# name_enc, name_idx, name_masked, gender, birthday, region, city, attributes
Profile = tuple[str, str, str, str, date, str, str, dict[str, Any]]
Record = tuple[str, int, int, Profile, "str | None"]  # ref, norm id, t, profile, owner userid
Placed = tuple[int, int, dict[str, int]]  # anchor identity id, customer id (maybe merged since), {kind: identity id}

DERIVED_TABLES = ("ownerships", "channel_code_daily", "customer_groups", "group_memberships", "tags",
                  "customer_tags", "outbox", "staff_transfers")
GRAPH_TABLES = ("customers", "identities", "identity_links", "merges", "identity_issues")
PROFILE_FIELDS = ["attributes", "birthday", "city", "gender", "name", "region"]


@dataclass(slots=True)
class _Code:
    id: int
    platform: str
    name: str
    channel: str | None
    tags: tuple[str, ...]
    welcome: str | None


@dataclass(slots=True)
class _Staff:
    id: int
    userid: str
    name: str


def _text(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    return value.strip() or None if isinstance(value, str) else None


class GraphLoader:
    """Resolves identities batch by batch and replays the state derived from them (one instance per load)."""

    def __init__(self, ctx: IngestContext):
        self.ctx = ctx
        self.tz = ctx.settings.tz
        self.settled: dict[str, tuple[int, int]] = {}  # blind index -> (identity id, a customer it sat in)
        self.parent: dict[int, int] = {}  # merged customer -> survivor (follow to the live root)
        self.last_merge = 0
        self.norms: Sequence[Norm] = ()
        self.risky: set[int] | frozenset[int] = frozenset()
        self.junky: set[int] = set()
        self.steady: dict[int, Placed] = {}
        self.specs: dict[int, list[tuple[Any, str, str, str]]] = {}
        self._spec: dict[str, Any] = {}
        self.keys: dict[int, tuple[str, ...]] = {}
        self.codes: dict[str, _Code] = {}
        self.staff: dict[str, _Staff] = {}
        self.staff_by_id: dict[int, _Staff] = {}
        self.own: list[list[Any]] = []  # identity, staff, code, source, added t, removed t, removed by, from
        self.rel: dict[int, dict[int, int]] = {}  # identity id -> {staff id: index in own} (open relations)
        self.daily: dict[tuple[int, date], list[int]] = {}  # creation order is id order
        self.groups: dict[str, int] = {}
        self.group_rows: list[list[Any]] = []
        self.stays: list[list[Any]] = []
        self.open_stays: dict[tuple[int, int], int] = {}
        self.tag_ids: dict[str, int] = {}
        self.tag_rows: list[tuple[Any, ...]] = []
        self.held: set[tuple[int, int]] = set()
        self.customer_tags: list[tuple[Any, ...]] = []
        self.outbox: list[tuple[Any, ...]] = []
        self.transfers: list[tuple[Any, ...]] = []
        self.top: dict[str, int] = {}
        self._savepoint: Any = None
        self.attributes: dict[int, dict[str, Any]] = {}  # customers given a CRM profile

    def start(self, session: Session) -> None:
        """Read where ids continue and what already exists (groups, tags) before the first batch."""
        conn = session.connection()
        self.top = repo.top_ids(conn, (*DERIVED_TABLES, "merges"))
        self.last_merge = self.top["merges"]
        self.groups = {chat: gid for chat, (gid, _name) in repo.groups(conn).items()}
        self.tag_ids = repo.tags(conn)

    # -- identities -----------------------------------------------------------------------------------
    def begin_block(self, norms: Sequence[Norm], risky: set[int] | frozenset[int] = frozenset()) -> None:
        """Take the identity sets (norms) the next batches refer to by index.

        ``risky`` names the sets that may meet a unique-kind conflict (a hint: see :meth:`_echoes`).
        """
        self.norms = norms
        self.risky = risky
        self.junky = {nid for nid, norm in enumerate(norms) if norm[1]}
        self.steady = {}
        self.specs = {}
        self.keys = {}

    def _items(self, nid: int) -> list[tuple[Any, str, str, str]]:
        items = self.specs.get(nid)
        if items is None:
            spec = self._spec
            items = self.specs[nid] = [(spec[k] if k in spec else self._new_spec(k), k, v, lk)
                                       for k, v, lk in self.norms[nid][0]]
        return items

    def _new_spec(self, kind: str) -> Any:
        spec = self._spec[kind] = self.ctx.ids.kinds.spec(kind)
        return spec

    def root(self, customer_id: int) -> int:
        """Return the live customer ``customer_id`` now stands for."""
        parent = self.parent
        while customer_id in parent:
            customer_id = parent[customer_id]
        return customer_id

    def _steady(self, nid: int) -> Placed | None:
        settled, parent, token, ids = self.settled, self.parent, None, {}
        items, _junk, anchor = self.norms[nid]
        for kind, _value, lookup in items:
            known = settled.get(lookup)
            if known is None:
                return None
            live = known[1]
            while live in parent:
                live = parent[live]
            if token is None:
                token = live
            elif live != token:
                return None
            ids[kind] = known[0]
        if token is None:
            return None
        placed = self.steady[nid] = (ids[items[anchor][0]], token, ids)
        return placed

    def _place(self, session: Session, cause: str, nids: Sequence[int],
               fact: Callable[[int], tuple[str, int]]) -> list[Placed]:
        """Return where each fact lands (``fact(n)`` gives its cause ref and time).

        Facts whose identities already sit together are answered from memory; the rest go through
        one resolver call, in order.
        """
        steady, apart = self.steady, set()  # a set not steady now stays so until this call resolves it
        out: list[Any] = []
        for nid in nids:
            hit = steady.get(nid)
            if hit is None and nid not in apart:
                hit = self._steady(nid)
                if hit is None:
                    apart.add(nid)
            out.append(hit)
        need = [n for n, hit in enumerate(out) if hit is None]
        if not need:
            return out
        facts = {n: (*fact(n), nids[n]) for n in need}
        sent, echoes = self._echoes(facts, need)
        resolved = self._resolve(session, cause, facts, sent)
        placed = self._answer_echoes(facts, echoes, resolved)
        if placed is None:  # a hint was wrong: some set came apart, so its repeats matter
            resolved = self._resolve(session, cause, facts, need, again=True)
            placed = {}
        self._savepoint.commit()
        for n in need:
            out[n] = resolved[n] if n in resolved else placed[n]
        settled, norms = self.settled, self.norms
        for n, (_anchor, customer, ids) in resolved.items():
            for kind, _value, lookup in norms[facts[n][2]][0]:
                iid = ids.get(kind)
                if iid is not None:
                    settled[lookup] = (iid, customer)
        for mid, survivor, merged in repo.merges_after(session.connection(), self.last_merge):
            self.parent[merged], self.last_merge = survivor, mid
        return out

    def _key(self, nid: int) -> tuple[str, ...]:
        key = self.keys.get(nid)
        if key is None:
            key = self.keys[nid] = tuple(lk for _k, _v, lk in self.norms[nid][0])
        return key

    def _echoes(self, facts: dict[int, tuple[str, int, int]], need: list[int]) -> tuple[list[int], dict[int, int]]:
        """Split the unsettled facts into those sent to the resolver and echoes of an earlier one in the call.

        An echo changes nothing in the graph once the earlier fact has put its identities in one
        customer: a fact with one identity that an earlier fact of the call carried, or a fact with
        the same identity set as an earlier one. Sets the caller marked as ``risky`` (they may meet a
        unique-kind conflict and stay apart, and then every repeat raises its own review entry) are
        always sent and never stand for others. The hint is checked after the call.
        """
        sent: list[int] = []
        echoes: dict[int, int] = {}
        by_identity: dict[str, int] = {}
        by_set: dict[tuple[str, ...], int] = {}
        risky = self.risky
        for n in need:
            nid = facts[n][2]
            if nid in risky:
                sent.append(n)
                continue
            key = self._key(nid)
            earlier = by_identity.get(key[0]) if len(key) == 1 else by_set.get(key)
            if earlier is not None:
                echoes[n] = earlier
                continue
            sent.append(n)
            by_set.setdefault(key, n)
            for lk in key:
                by_identity.setdefault(lk, n)
        return sent, echoes

    def _answer_echoes(self, facts: dict[int, tuple[str, int, int]], echoes: dict[int, int],
                       resolved: dict[int, Placed]) -> dict[int, Placed] | None:
        """Return each echo's placement from its earlier fact, or None if an earlier fact left its set apart."""
        placed: dict[int, Placed] = {}
        for n, earlier in echoes.items():
            items = self.norms[facts[n][2]][0]
            anchor, customer, ids = resolved[earlier]
            if len(items) == 1:
                iid = ids.get(items[0][0])
                if iid is None:
                    return None
                placed[n] = (iid, customer, {items[0][0]: iid})
            elif len(ids) < len(items):
                return None
            else:
                placed[n] = (anchor, customer, ids)
        return placed

    def _resolve(self, session: Session, cause: str, facts: dict[int, tuple[str, int, int]], chosen: list[int], *,
                 again: bool = False) -> dict[int, Placed]:
        """Resolve the chosen facts in one call, inside a savepoint the caller releases (or rolls back)."""
        if again:
            self._savepoint.rollback()
            repo.sync_sequences(session.connection(), GRAPH_TABLES)  # PostgreSQL keeps drawn values: give them back
        self._savepoint = session.begin_nested()
        resolved = identity.resolver(session, self.ctx.ids).resolve([
            identity.FactIdentities(cause, facts[n][0], datetime.fromtimestamp(facts[n][1], UTC), self._items(facts[n][2]))
            for n in chosen])
        return {n: (r.anchor_id, r.customer_id, r.identity_ids) for n, r in zip(chosen, resolved, strict=True)}

    def _junk(self, session: Session, cause: str, facts: Sequence[tuple[Any, ...]], nid_at: int) -> None:
        norms, junky = self.norms, self.junky
        if not junky:
            return
        rows = [row for f in facts if f[nid_at] in junky
                for row in identity.junk_issue_rows(list(self.norms[f[nid_at]][1]), cause, f[0])]
        identity.record_junk(session, rows)

    # -- one batch --------------------------------------------------------------------------------------
    def events(self, session: Session, events: list[EventFact]) -> array[int]:
        """Resolve a batch's events (each has identities); apply contact and group events; return anchors."""
        placed = self._place(session, "event", [e[2] for e in events], lambda n: (events[n][0], events[n][1]))
        self._junk(session, "event", events, 2)
        dispatched = [(e, p) for e, p in zip(events, placed, strict=True) if e[4] is not None]
        if dispatched:
            self._contacts(session, [(e, p) for e, p in dispatched if e[3] in CONTACT_TYPES])
            self._group_events([(e, p) for e, p in dispatched if e[3] in GROUP_TYPES])
        return array("q", [p[0] for p in placed])

    def orders(self, session: Session, facts: list[OrderFact]) -> array[int]:
        """Resolve a batch's order facts that carry identities; return anchors (0 when only junk)."""
        usable = [f for f in facts if self.norms[f[3]][0]]
        placed = self._place(session, "order", [f[3] for f in usable],
                             lambda n: (f"{usable[n][0]}:{usable[n][1]}", usable[n][2]))
        self._junk(session, "order", facts, 3)
        if len(usable) == len(facts):
            return array("q", [p[0] for p in placed])
        anchors = array("q", bytes(8 * len(facts)))
        answers = iter(placed)
        for n, f in enumerate(facts):
            if self.norms[f[3]][0]:
                anchors[n] = next(answers)[0]
        return anchors

    def customers(self, session: Session, records: list[Record]) -> None:
        """Resolve CRM records, write their profiles, open their owners' relations (like ingest_customers)."""
        placed = self._place(session, "import", [r[1] for r in records], lambda n: (records[n][0][:160], records[n][2]))
        self._profiles(session, records, placed)
        self._owners(session, records, placed)
        self._junk(session, "import", records, 1)

    # -- contact events (channel_codes.contacts) ----------------------------------------------------------
    def _code(self, session: Session, state: str | None) -> _Code | None:
        if not state:
            return None
        code = self.codes.get(state)
        if code is None:
            c = channel_codes.code_by_state(session, state).code
            code = self.codes[state] = _Code(c.id, c.platform, c.name, c.channel, tuple(c.tags or ()),
                                             c.welcome_template)
        return code

    def _staff_of(self, session: Session, userids: set[str]) -> None:
        missing = {u for u in userids if u not in self.staff}
        if missing:
            for userid, member in staff.staff_by_userids(session, missing).items():
                self.staff[userid] = self.staff_by_id[member.id] = _Staff(member.id, member.userid, member.name)

    def _staff_id(self, userid: str | None, event_id: str) -> int:
        member = self.staff.get(userid or "")
        if member is None:  # the services would create a placeholder or pick by strategy: not a bulk case
            raise ValueError(f"the bulk loader needs an existing staff_userid on contact_added (event {event_id})")
        return member.id

    def _open(self, identity_id: int, staff_id: int, code_id: int | None, source: str, t: int,
              transferred_from: int | None = None) -> int:
        self.own.append([identity_id, staff_id, code_id, source, t, None, None, transferred_from])
        index = len(self.own) - 1
        self.rel.setdefault(identity_id, {})[staff_id] = index
        return index

    def _close(self, event: EventFact, anchor: int, totals: dict[tuple[int, date], list[int]]) -> None:
        userid = _text(event[4] or {}, "staff_userid")
        held = self.rel.get(anchor, {})
        targets = [self.staff[userid].id if userid in self.staff else None] if userid else list(held)
        for staff_id in targets:
            index = held.get(staff_id) if staff_id is not None else None
            if index is None or self.own[index][4] > event[1]:
                continue  # no such relation, or the deletion belongs to an earlier one
            del held[staff_id]
            row = self.own[index]
            row[5], row[6] = event[1], channel_codes.REMOVED_BY[event[3]]
            if row[2] is not None:
                totals.setdefault((row[2], self._day(event[1])), [0, 0])[1] += 1

    def _contacts(self, session: Session, events: list[tuple[EventFact, Placed]]) -> None:
        if not events:
            return
        self._staff_of(session, {u for e, _p in events if (u := _text(e[4] or {}, "staff_userid"))})
        now = utcnow()
        attributions: dict[int, _Code] = {}
        tagging: dict[tuple[int, int], _Code] = {}
        opened: list[tuple[EventFact, _Code, int, int, int]] = []
        totals: dict[tuple[int, date], list[int]] = {}
        for event, (anchor_id, token, ids) in events:
            anchor = ids.get("external_userid", anchor_id)
            if event[3] != "contact_added":
                self._close(event, anchor, totals)
                continue
            props = event[4] or {}
            customer = self.root(token)
            code = self._code(session, _text(props, "state"))
            if code is not None:
                attributions.setdefault(customer, code)
                if code.tags:
                    tagging.setdefault((customer, code.id), code)
            staff_id = self._staff_id(_text(props, "staff_userid"), event[0])
            if staff_id in self.rel.get(anchor, {}):
                continue  # already follows: a replay, or a re-add reported twice
            self._open(anchor, staff_id, code.id if code else None, "channel_code" if code else "event", event[1])
            if code is not None:
                opened.append((event, code, staff_id, anchor, customer))
                totals.setdefault((code.id, self._day(event[1])), [0, 0])[0] += 1
        self._attribute(session, attributions, now)
        self._tag(tagging, now)
        self._welcome(opened, now)
        for key in sorted(totals):  # statistics rows are created in key order, batch by batch
            counts = self.daily.setdefault(key, [0, 0])
            counts[0] += totals[key][0]
            counts[1] += totals[key][1]

    def _day(self, t: int) -> date:
        return datetime.fromtimestamp(t, self.tz).date()

    def _attribute(self, session: Session, attributions: dict[int, _Code], now: datetime) -> None:
        rows: dict[int, _Code] = {}
        for customer in sorted(attributions):  # the services visit customers in id order
            rows.setdefault(self.root(customer), attributions[customer])
        repo.set_sources_if_empty(session.connection(), [(c.id, c.platform, now, root) for root, c in rows.items()])

    def _tag(self, tagging: dict[tuple[int, int], _Code], now: datetime) -> None:
        if not tagging:
            return
        names = {n.strip() for code in tagging.values() for n in code.tags}
        for name in sorted(names - self.tag_ids.keys()):
            tag_id = self.top["tags"] + len(self.tag_rows) + 1
            self.tag_ids[name] = tag_id
            self.tag_rows.append((tag_id, name, "默认", "channel", now))
        for (customer, _code_id), code in tagging.items():
            for name in code.tags:
                pair = (customer, self.tag_ids[name.strip()])
                if pair not in self.held:
                    self.held.add(pair)
                    self.customer_tags.append((customer, pair[1], f"channel_code:{code.id}"[:32], now))

    def _welcome(self, opened: list[tuple[EventFact, _Code, int, int, int]], now: datetime) -> None:
        for event, code, staff_id, anchor, customer in opened:
            if not code.welcome:
                continue
            props = event[4] or {}
            member = self.staff_by_id[staff_id]
            values = {"customer_name": _text(props, "name") or _text(props, "nickname") or "",
                      "staff_name": member.name, "staff_userid": member.userid, "code_name": code.name,
                      "channel": code.channel or "", "platform": code.platform}
            payload = {"text": channel_codes.render_welcome(code.welcome, values), "staff_userid": member.userid,
                       "external_userid_identity_id": anchor, "welcome_code": _text(props, "welcome_code"),
                       "channel_code_id": code.id, "event_id": event[0]}
            self.outbox.append((f"welcome:{event[0]}", customer, staff_id, payload, event[1], now))

    # -- group events (groups.service) ---------------------------------------------------------------------
    @staticmethod
    def _chat(event: EventFact) -> str:
        raw = (event[4] or {}).get("chat_id")
        chat = raw.strip() if isinstance(raw, str) else ""
        return chat if 0 < len(chat) <= 80 else ""

    def _ensure_groups(self, events: list[tuple[EventFact, Placed]]) -> None:
        first: dict[str, int] = {}
        names: dict[str, str] = {}
        for event, _p in events:
            chat = self._chat(event)
            first.setdefault(chat, event[1])
            name = (event[4] or {}).get("group_name")
            if isinstance(name, str) and name.strip():
                names[chat] = name.strip()[:120]
        for chat, t in first.items():
            if chat not in self.groups:
                self.groups[chat] = self.top["customer_groups"] + len(self.group_rows) + 1
                self.group_rows.append([self.groups[chat], chat, names.get(chat, chat), None, t, None])
            elif chat in names:  # a placeholder name learns the real one
                for row in self.group_rows:
                    if row[1] == chat and row[2] == chat:
                        row[2] = names[chat]

    def _group_events(self, events: list[tuple[EventFact, Placed]]) -> None:
        usable = [(e, p) for e, p in events if self._chat(e)]
        if any((e[4] or {}).get("staff_userid") for e, _p in usable):
            raise ValueError("the bulk loader does not take group owners (staff_userid) on group events")
        self._ensure_groups(usable)
        for event, (anchor_id, _token, ids) in usable:
            key = (self.groups[self._chat(event)], ids.get("external_userid", anchor_id))
            if event[3] == "group_joined":
                if key not in self.open_stays:  # an open stay already: a replay or a missed leave
                    self.open_stays[key] = len(self.stays)
                    self.stays.append([key[0], key[1], event[1], None, event[0]])
                continue
            index = self.open_stays.get(key)
            if index is None or self.stays[index][2] > event[1]:
                continue  # a leave without a stay we know of, or older than the stay
            del self.open_stays[key]
            self.stays[index][3] = event[1]

    # -- CRM records (ingest.customers) ----------------------------------------------------------------------
    def _profiles(self, session: Session, records: list[Record], placed: list[Placed]) -> None:
        latest: dict[int, Profile] = {}
        for record, (_anchor, token, _ids) in zip(records, placed, strict=True):
            latest[self.root(token)] = record[3]  # a later record of the same customer wins
        if not latest:
            return
        now = utcnow()
        rows = []
        for root, (enc, idx, masked, gender, birthday, region, city, attributes) in latest.items():
            # only CRM records write attributes and merges never carry them over, so the loader knows them
            merged = {**self.attributes.get(root, {}), **attributes}
            for key in [k for k, v in merged.items() if v is None]:
                del merged[key]
            self.attributes[root] = merged
            rows.append((enc, idx, masked, gender, birthday, region, city, json_text(merged), now, root))
        repo.update_profiles(session.connection(), rows)
        audit(session, "import", "customer.update", "customer", None,
              {"customers": len(rows), "fields": PROFILE_FIELDS})

    def _owners(self, session: Session, records: list[Record], placed: list[Placed]) -> None:
        wanted = [(r, p) for r, p in zip(records, placed, strict=True) if r[4]]
        if not wanted:
            return
        self._staff_of(session, {r[4] for r, _p in wanted if r[4]})
        following: set[tuple[int, int]] = set()  # pairs claimed by this batch's earlier records
        for record, (anchor_id, _token, ids) in wanted:
            staff_id = self.staff[record[4]].id  # type: ignore[index]
            held = set(ids.values()) | {anchor_id}
            if any((staff_id, i) in following or staff_id in self.rel.get(i, {}) for i in held):
                continue
            following.update((staff_id, i) for i in held)
            self._open(ids.get("external_userid", anchor_id), staff_id, None, "import", record[2])

    # -- the end ------------------------------------------------------------------------------------------------
    def depart(self, session: Session, leaver: str, heir: str, when: int, actor: str) -> None:
        """Mark ``leaver`` departed at ``when`` and move their open relations to ``heir`` (like depart_staff)."""
        self._staff_of(session, {leaver, heir})
        source, target = self.staff[leaver], self.staff[heir]
        at = datetime.fromtimestamp(when, UTC)
        staff.depart_staff(session, source.id, actor=actor, at=at)  # status and audit; relations move below
        moving = sorted(i for ident, held in self.rel.items() for sid, i in held.items() if sid == source.id)
        already = {self.own[i][0] for i in moving if target.id in self.rel.get(self.own[i][0], {})}
        for index in moving:
            row = self.own[index]
            del self.rel[row[0]][source.id]
            row[5], row[6] = when, "transfer"
            if row[0] not in already:
                already.add(row[0])
                self._open(row[0], target.id, None, "transfer", when, self.top["ownerships"] + index + 1)
        transfer_id = self.top["staff_transfers"] + len(self.transfers) + 1
        self.transfers.append((transfer_id, source.id, target.id, "departure", len(moving), actor, at))
        identity_ids = sorted({self.own[i][0] for i in moving})
        audit(session, actor, "staff.transfer", "staff_transfer", transfer_id,
              {"from": source.userid, "to": target.userid, "reason": "departure", "ownerships": len(moving),
               "identity_ids": identity_ids[:200]})

    def write_derived(self, conn: Connection) -> None:
        """Write the replayed derived state (relations, statistics, groups, stays, tags, outbox, transfers)."""
        clock = Clock(repo.is_sqlite(conn))
        top = self.top

        def t_(t: int | None) -> str | None:
            return None if t is None else clock(t)

        repo.insert_rows(conn, "ownerships", ("id", "identity_id", "staff_id", "channel_code_id", "source", "added_at",
                                              "removed_at", "removed_by", "transferred_from_id"),
                         [(top["ownerships"] + n + 1, r[0], r[1], r[2], r[3], clock(r[4]), t_(r[5]), r[6], r[7])
                          for n, r in enumerate(self.own)], ("added_at", "removed_at"))
        repo.insert_rows(conn, "channel_code_daily", ("id", "code_id", "day", "added", "lost"),
                         [(top["channel_code_daily"] + n + 1, c, d.isoformat(), a, lo)
                          for n, ((c, d), (a, lo)) in enumerate(self.daily.items())])
        repo.insert_rows(conn, "customer_groups", ("id", "chat_id", "name", "owner_staff_id", "created_at",
                                                   "dissolved_at"),
                         [(g, chat, name, owner, clock(t), None) for g, chat, name, owner, t, _d in self.group_rows],
                         ("created_at",))
        repo.insert_rows(conn, "group_memberships", ("id", "group_id", "identity_id", "joined_at", "left_at",
                                                     "join_event_id"),
                         [(top["group_memberships"] + n + 1, g, i, clock(j), t_(lf), ev)
                          for n, (g, i, j, lf, ev) in enumerate(self.stays)], ("joined_at", "left_at"))
        repo.insert_rows(conn, "tags", ("id", "name", "group_name", "kind", "created_at"),
                         [(i, n, g, k, clock.wall(at)) for i, n, g, k, at in self.tag_rows])
        repo.insert_rows(conn, "customer_tags", ("id", "customer_id", "tag_id", "source", "added_at", "removed_at"),
                         [(top["customer_tags"] + n + 1, c, tg, s, clock.wall(at), None)
                          for n, (c, tg, s, at) in enumerate(self.customer_tags)])
        repo.insert_rows(conn, "outbox", ("id", "idempotency_key", "kind", "channel", "category", "customer_id",
                                          "staff_id", "payload", "status", "send_after", "created_at"),
                         [(top["outbox"] + n + 1, key, "welcome_message", "wecom", "transactional", c, s,
                           json_text(payload), "pending", clock(t), clock.wall(now))
                          for n, (key, c, s, payload, t, now) in enumerate(self.outbox)], ("send_after",))
        repo.insert_rows(conn, "staff_transfers", ("id", "from_staff_id", "to_staff_id", "reason", "customers",
                                                   "actor", "created_at"),
                         [(*r[:6], clock.wall(r[6])) for r in self.transfers])
        repo.sync_sequences(conn, DERIVED_TABLES)


def demo_counts(conn: Connection) -> dict[str, int]:
    """Return the headline counts of a loaded database (customers, merges, identities, facts, staff, codes)."""
    return repo.fact_counts(conn)

