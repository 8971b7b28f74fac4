"""Bulk load of a large, trusted history into an empty database (``siyu demo`` at scale, benchmarks).

It leaves the database the ingestion services leave for the same batches, in the same order
(``tests/demo`` compares both row by row), at a fraction of the cost, because the loader is the
only writer of a fresh database and its input is generated, not received:

* **Identities are resolved in memory by the OneID resolver's rules**
  (:class:`~siyu.domains.ingest.bulk_graph.MemoryGraph`): each batch's identity-bearing facts
  make one resolver call, exactly where the services would call the resolver, and the graph's
  rows (customers, identities, merges, links, review entries) are flushed as the driver chooses
  (:meth:`GraphLoader.flush_graph`, after each block) and finished at the end
  (:meth:`GraphLoader.finish_graph`: the rest, and the flushed rows that changed since). Facts whose
  identities already sit together in one customer cannot change the graph (identities only move
  together, when customers merge), so they are answered from the graph without a call.
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
from siyu.domains.ingest.bulk_graph import MemoryGraph, Placed
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
        self.graph: MemoryGraph | None = None
        self.norms: Sequence[Norm] = ()
        self.junky: set[int] = set()
        self.steady: dict[int, Placed] = {}
        self.specs: dict[int, list[tuple[Any, str, str, str]]] = {}
        self._spec: dict[str, Any] = {}
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
        self.attributes: dict[int, dict[str, Any]] = {}  # customers given a CRM profile

    def start(self, session: Session) -> None:
        """Read where ids continue and what already exists (groups, tags) before the first batch."""
        conn = session.connection()
        if not repo.is_empty(conn, GRAPH_TABLES):  # the graph is held in memory: it must start empty
            raise ValueError("the bulk loader needs a database without customers or identities")
        self.top = repo.top_ids(conn, DERIVED_TABLES)
        self.graph = MemoryGraph(self.ctx.ids.kinds, self.ctx.ids.vault, repo.top_ids(conn, GRAPH_TABLES))
        self.groups = {chat: gid for chat, (gid, _name) in repo.groups(conn).items()}
        self.tag_ids = repo.tags(conn)

    # -- identities -----------------------------------------------------------------------------------
    def begin_block(self, norms: Sequence[Norm]) -> None:
        """Take the identity sets (norms) the next batches refer to by index."""
        self.norms = norms
        self.junky = {nid for nid, norm in enumerate(norms) if norm[1]}
        self.steady = {}
        self.specs = {}

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
        return self.graph.root_id(customer_id)  # type: ignore[union-attr]

    def _place(self, cause: str, nids: Sequence[int], fact: Callable[[int], tuple[str, int]]) -> list[Placed]:
        """Return where each fact lands (``fact(n)`` gives its cause ref and time).

        Facts whose identities already sit together are answered from the graph (and remembered
        for the block: their anchor and identities never change); the rest make one resolver call.
        """
        graph, steady, items_of = self.graph, self.steady, self._items
        assert graph is not None
        out: list[Any] = []
        need: list[int] = []
        for n, nid in enumerate(nids):
            hit = steady.get(nid)
            if hit is None:
                hit = graph.steady(items_of(nid))
                if hit is None:
                    need.append(n)
                else:
                    steady[nid] = hit
            out.append(hit)
        if need:
            facts = [(cause, *fact(n), items_of(nids[n])) for n in need]
            for n, placed in zip(need, graph.resolve(facts, utcnow(), unsteady=True), strict=True):
                out[n] = placed
        return out

    def _junk(self, cause: str, facts: Sequence[tuple[Any, ...]], nid_at: int) -> None:
        norms, junky = self.norms, self.junky
        if not junky:
            return
        rows = [row for f in facts if f[nid_at] in junky
                for row in identity.junk_issue_rows(list(norms[f[nid_at]][1]), cause, f[0])]
        self.graph.add_issues([(r["category"], r["kind"], r["value_masked"], r["customer_id"],  # type: ignore[union-attr]
                                r["other_customer_id"], r["cause_type"], r["cause_ref"], r["detail"], r["status"],
                                r["created_at"]) for r in rows])

    # -- one batch --------------------------------------------------------------------------------------
    def events(self, session: Session, events: list[EventFact]) -> array[int]:
        """Resolve a batch's events (each has identities); apply contact and group events; return anchors."""
        placed = self._place("event", [e[2] for e in events], lambda n: (events[n][0], events[n][1]))
        self._junk("event", events, 2)
        dispatched = [(e, p) for e, p in zip(events, placed, strict=True) if e[4] is not None]
        if dispatched:
            self._contacts(session, [(e, p) for e, p in dispatched if e[3] in CONTACT_TYPES])
            self._group_events([(e, p) for e, p in dispatched if e[3] in GROUP_TYPES])
        return array("q", [p[0] for p in placed])

    def orders(self, session: Session, facts: list[OrderFact]) -> array[int]:
        """Resolve a batch's order facts that carry identities; return anchors (0 when only junk)."""
        usable = [f for f in facts if self.norms[f[3]][0]]
        placed = self._place("order", [f[3] for f in usable], lambda n: (f"{usable[n][0]}:{usable[n][1]}", usable[n][2]))
        self._junk("order", facts, 3)
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
        placed = self._place("import", [r[1] for r in records], lambda n: (records[n][0][:160], records[n][2]))
        self._profiles(session, records, placed)
        self._owners(session, records, placed)
        self._junk("import", records, 1)

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
        self._attribute(attributions, now)
        self._tag(tagging, now)
        self._welcome(opened, now)
        for key in sorted(totals):  # statistics rows are created in key order, batch by batch
            counts = self.daily.setdefault(key, [0, 0])
            counts[0] += totals[key][0]
            counts[1] += totals[key][1]

    def _day(self, t: int) -> date:
        return datetime.fromtimestamp(t, self.tz).date()

    def _attribute(self, attributions: dict[int, _Code], now: datetime) -> None:
        rows: dict[int, _Code] = {}
        for customer in sorted(attributions):  # the services visit customers in id order
            rows.setdefault(self.root(customer), attributions[customer])
        for root, code in rows.items():
            self.graph.set_source_if_empty(root, code.id, code.platform, now)  # type: ignore[union-attr]

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
        for root, (enc, idx, masked, gender, birthday, region, city, attributes) in latest.items():
            # only CRM records write attributes and merges never carry them over, so the loader knows them
            merged = {**self.attributes.get(root, {}), **attributes}
            for key in [k for k, v in merged.items() if v is None]:
                del merged[key]
            self.attributes[root] = merged
            self.graph.set_profile(root, (enc, idx, masked, gender, birthday, region, city),  # type: ignore[union-attr]
                                   json_text(merged), now)
        audit(session, "import", "customer.update", "customer", None,
              {"customers": len(latest), "fields": PROFILE_FIELDS})

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

    def flush_graph(self, conn: Connection) -> None:
        """Append the graph rows created so far (history rows about to be written refer to them)."""
        self.graph.flush(conn)  # type: ignore[union-attr]

    def finish_graph(self, conn: Connection) -> None:
        """Write the graph rows not flushed yet and rewrite the flushed ones that changed since."""
        self.graph.finish(conn)  # type: ignore[union-attr]

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

