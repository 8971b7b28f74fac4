"""A filtered listing answered in two steps (a probe of the newest ids, then sets over the rest) gives
exactly the pages of a single query: checked against a reference computed in Python, for every
relational filter, staff scoping, several probe windows and page sizes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from factories import at, make_channel_code, make_customer, make_group_membership, make_identity, make_ownership, \
    make_staff, make_tag, staff_principal
from sqlalchemy import Engine

from siyu.db.engine import unit_of_work
from siyu.domains.access import Principal
from siyu.domains.customers import repository, service
from siyu.domains.customers.schemas import CustomerFilter
from siyu.kit.crypto import PiiVault

STAFF = ("s1", "s2", "s3")
TAGS = {"VIP": 0.4, "老客": 0.05}  # name: chance a customer gets it
GROUPS = {"chatA": 0.3, "chatB": 0.03}


@dataclass
class Truth:
    """What each live customer is, computed while the brand is built (the reference)."""

    live: list[int] = field(default_factory=list)
    staff_ids: dict[str, int] = field(default_factory=dict)
    codes: list[int] = field(default_factory=list)
    followed: dict[str, set[int]] = field(default_factory=dict)  # active follows only
    via_code: dict[int, set[int]] = field(default_factory=dict)  # ever added through the code
    tagged: dict[str, set[int]] = field(default_factory=dict)  # held by the customer or a tombstone of it
    in_group: dict[str, set[int]] = field(default_factory=dict)  # current stays only

    def expected(self, *, scope: str | None = None, owner: str | None = None, code: int | None = None,
                 tag: str | None = None, group: str | None = None) -> list[int]:
        keep = set(self.live)
        for wanted in (self.followed.get(scope) if scope else None, self.followed.get(owner, set()) if owner else None,
                       self.via_code.get(code, set()) if code else None, self.tagged.get(tag, set()) if tag else None,
                       self.in_group.get(group, set()) if group else None):
            if wanted is not None:
                keep &= wanted
        return sorted(keep, reverse=True)


@pytest.fixture
def truth(db_engine: Engine, vault: PiiVault) -> Truth:
    rng = random.Random(11)
    t = Truth()
    with unit_of_work(db_engine) as s:
        staff = {u: make_staff(s, u) for u in STAFF}
        t.staff_ids = {u: m.id for u, m in staff.items()}
        codes = [make_channel_code(s, "海报"), make_channel_code(s, "直播间")]
        t.codes = [c.id for c in codes]
        for n in range(90):
            merged_into = rng.choice(t.live) if t.live and n % 7 == 3 else None
            customer = make_customer(s, vault, first_seen_at=at(n), merged_into_id=merged_into)
            root = merged_into or customer.id
            if merged_into is None:
                t.live.append(customer.id)
            ident = make_identity(s, vault, customer.id, "unionid", f"union{n:04d}")
            if merged_into is not None:
                ident.customer_id = merged_into  # a merge moves identities to the survivor, tags stay behind
            # a sparse staff member (s3) and busy ones, some follows ended, some through a code
            for userid, chance in (("s1", 0.5), ("s2", 0.3), ("s3", 0.04)):
                if rng.random() < chance:
                    ended = rng.random() < 0.2
                    code = rng.choice([None, *codes])
                    make_ownership(s, ident, staff[userid], code=code, added_at=at(n),
                                   removed_at=at(n + 1) if ended else None)
                    if not ended:
                        t.followed.setdefault(userid, set()).add(root)
                    if code is not None:
                        t.via_code.setdefault(code.id, set()).add(root)
            for name, chance in {**TAGS, **GROUPS}.items():  # tags stay on a tombstone, stays move with identities
                if rng.random() < chance:
                    ended = rng.random() < 0.25
                    if name in TAGS:
                        make_tag(s, customer, name, removed=ended)
                    else:
                        make_group_membership(s, ident, name, left=ended)
                    if not ended:
                        (t.tagged if name in TAGS else t.in_group).setdefault(name, set()).add(root)
        s.flush()
    return t


def _pages(db_engine: Engine, principal: Principal, flt: CustomerFilter, limit: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    with unit_of_work(db_engine) as s:
        while True:
            page = service.list_customers(s, principal, flt, cursor=cursor, limit=limit)
            assert len(page.items) <= limit
            seen += [c.id for c in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return seen


@pytest.mark.parametrize("window", [1, 4, 25, 20_000])
@pytest.mark.parametrize("limit", [1, 6, 200])
def test_every_filter_pages_like_the_reference(db_engine: Engine, truth: Truth, window: int, limit: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repository, "PROBE_WINDOW", window)
    admin = Principal(actor="user:admin", role="admin")
    code = truth.codes[0]
    cases: list[tuple[dict[str, object], dict[str, object]]] = [
        ({"owner": "s1"}, {"owner": "s1"}), ({"owner": "s3"}, {"owner": "s3"}),
        ({"owner": "nobody"}, {"owner": "nobody"}), ({"channel_code": code}, {"code": code}),
        ({"tag": "VIP"}, {"tag": "VIP"}), ({"tag": "老客"}, {"tag": "老客"}), ({"tag": "无"}, {"tag": "无"}),
        ({"group": "chatA"}, {"group": "chatA"}), ({"group": "chatB"}, {"group": "chatB"}),
        ({"owner": "s2", "tag": "VIP", "group": "chatA"}, {"owner": "s2", "tag": "VIP", "group": "chatA"}),
    ]
    for flt, expected in cases:
        assert _pages(db_engine, admin, CustomerFilter(**flt), limit) == truth.expected(**expected), flt  # type: ignore[arg-type]


@pytest.mark.parametrize("window", [1, 4, 25, 20_000])
@pytest.mark.parametrize("limit", [1, 6, 200])
def test_staff_scope_holds_in_both_steps(db_engine: Engine, truth: Truth, window: int, limit: int,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repository, "PROBE_WINDOW", window)
    for userid in STAFF:
        me = staff_principal(truth.staff_ids[userid])
        assert _pages(db_engine, me, CustomerFilter(), limit) == truth.expected(scope=userid)
        assert _pages(db_engine, me, CustomerFilter(tag="VIP"), limit) == truth.expected(scope=userid, tag="VIP")
        assert _pages(db_engine, me, CustomerFilter(owner="s1"), limit) == truth.expected(scope=userid, owner="s1")
    assert truth.expected(scope="s3")  # the sparse staff member follows someone
