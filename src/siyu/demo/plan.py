"""The brand's fixed structure, derived from the seed alone: staff, stores, channel codes and groups.

People are simulated against this plan (which code they scan, which staff member WeCom reports);
:mod:`siyu.demo.brand` then creates exactly these rows through the staff and channel-code services.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from siyu.demo import catalog

DAY = 86400


@dataclass(frozen=True)
class StaffPlan:
    """A staff member: WeCom userid, name, department and store (None for online teams)."""

    userid: str
    name: str
    department: str
    store: str | None


@dataclass(frozen=True)
class CodePlan:
    """A channel code: state, platform, strategy, pool (userid, weight, daily cap), hours and tags."""

    state: str
    name: str
    platform: str
    channel: str
    strategy: str
    pool: tuple[tuple[str, int, int | None], ...]
    working_hours: dict[str, list[list[str]]]
    backup: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass
class BrandPlan:
    """Everything about the brand that does not depend on its customers."""

    seed: int
    start: int
    end: int
    staff: list[StaffPlan]
    codes: list[CodePlan]
    departures: dict[str, tuple[int, str]]  # userid -> (departed at, heir userid)
    test_numbers: frozenset[str] = frozenset()
    by_platform: dict[str, list[CodePlan]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for code in self.codes:
            self.by_platform.setdefault(code.platform, []).append(code)
        stores = self.by_platform["store"]
        self._local_codes = {city: [c for c in stores if c.channel == city] or stores for _r, city, _w in catalog.CITIES}
        self._pools = {c.state: ([u for u, _w, _c in c.pool], list(itertools.accumulate(w for _u, w, _c in c.pool)))
                       for c in self.codes}
        self._groups = {city: [g for g in catalog.GROUPS if city in g[1]] + list(catalog.GROUPS[-2:])
                        for _r, city, _w in catalog.CITIES}
        self._stores = {city: [s for s in catalog.STORES if s[2] == city] or list(catalog.STORES)
                        for _r, city, _w in catalog.CITIES}

    @staticmethod
    def _pick(seq: Sequence[Any], draw: Callable[[], float]) -> Any:
        return seq[int(draw() * len(seq))]

    def code_for(self, source: str, city: str, draw: Callable[[], float]) -> CodePlan:
        """Return the code a person from ``source`` scans (stores: the store in their city, if any)."""
        if source == "store":
            return self._pick(self._local_codes[city], draw)
        return self._pick(self.by_platform.get(source) or self.by_platform["poster"], draw)

    def pick_staff(self, code: CodePlan, t: int, draw: Callable[[], float]) -> str:
        """Return the pool member WeCom reports for a scan at ``t`` (departed staff take no new contacts)."""
        members, cum = self._pools[code.state]
        userid = members[bisect.bisect_right(cum, draw() * cum[-1])]
        gone = self.departures.get(userid)
        if gone and t >= gone[0]:
            return gone[1]
        return userid

    def group_for(self, city: str, draw: Callable[[], float]) -> tuple[str, str]:
        """Return (chat_id, name) of a group a person in ``city`` joins."""
        return self._pick(self._groups[city], draw)  # type: ignore[no-any-return]

    def store_for(self, city: str, draw: Callable[[], float]) -> str:
        """Return the store code a person in ``city`` visits (another one when the city has none)."""
        return self._pick(self._stores[city], draw)[0]  # type: ignore[no-any-return]


def _staff(rng: random.Random) -> list[StaffPlan]:
    staff: list[StaffPlan] = []
    used: set[str] = set()
    for n in range(32):
        while True:
            name = rng.choice(catalog.SURNAMES) + rng.choice(catalog.GIVEN_FEMALE + catalog.GIVEN_MALE)
            if name not in used:
                used.add(name)
                break
        if n < 24:
            code, _name, _city = catalog.STORES[n % len(catalog.STORES)]
            staff.append(StaffPlan(f"sc{n + 1:03d}", name, "门店", code))
        else:
            staff.append(StaffPlan(f"sc{n + 1:03d}", name, "线上客服" if n < 29 else "社群运营", None))
    return staff


HOURS = {day: [["09:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _codes(rng: random.Random, staff: list[StaffPlan]) -> list[CodePlan]:
    online = [s.userid for s in staff if s.store is None]
    codes = []
    for n, (platform, name, strategy, tags) in enumerate(catalog.CODES):
        size = 1 if strategy == "fixed" else rng.randint(2, 4)
        members = rng.sample(online, size)
        pool = tuple((u, rng.choice((1, 2, 3)) if strategy == "weighted" else 1,
                      rng.choice((None, 200, 500)) if strategy != "fixed" else None) for u in members)
        backup = tuple(u for u in online if u not in members)[:1]
        codes.append(CodePlan(f"{platform[:4]}_{n + 1:02d}", name, platform, platform, strategy, pool,
                              HOURS if n % 3 == 0 else {}, backup, tags))
    for code, store_name, city in catalog.STORES:
        members = [s.userid for s in staff if s.store == code]
        codes.append(CodePlan(f"store_{code}", f"{store_name}收银台码", "store", city, "round_robin",
                              tuple((u, 1, None) for u in members), HOURS, (), ("来源-门店", f"门店-{city}")))
    return codes


def make_plan(seed: int, start: int, end: int, test_numbers: frozenset[str] = frozenset()) -> BrandPlan:
    """Return the brand plan for ``seed`` over the window [start, end) (epoch seconds)."""
    rng = random.Random(seed)
    staff = _staff(rng)
    codes = _codes(rng, staff)
    departures: dict[str, tuple[int, str]] = {}
    for store_code in ("S02", "S05", "S07"):
        team = [s.userid for s in staff if s.store == store_code]
        departures[team[0]] = (end - rng.randint(20, 200) * DAY, team[1])
    online = [s.userid for s in staff if s.store is None]
    departures[online[0]] = (end - rng.randint(30, 120) * DAY, online[1])
    return BrandPlan(seed, start, end, staff, codes, departures, test_numbers)
