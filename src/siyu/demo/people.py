"""One simulated person: who they are, their identities, and every fact they leave behind, in time order.

Each person draws from their own random stream (seed × index), so a person is the same whatever the
population size, and blocks of people can be generated in any order or process. Behaviour:

* AIPL: content seen on the source platform or in the mini program (awareness), clicks and
  favourites (interest), a first order (purchase), repeat orders (loyalty);
* BG/NBD-like buying: while "alive" a buyer orders as a Poisson process with a personal rate
  (gamma-distributed across people) and after each order drops out with a personal probability
  (beta-distributed), so most of the base goes quiet and a few buy every week;
* private-domain touches: a channel-code scan (``contact_added`` with the code's ``state``), group
  joins and leaves, deleting the staff member, inviting friends;
* OneID: several identities per person that arrive through different facts: a mini-program
  openid, a unionid, a phone on orders, a WeCom external_userid, a Douyin openid, a member number,
  so customers are created apart and merged later; a few placeholder values (junk) and a few
  orders carrying somebody else's phone (unique-kind conflicts) keep the review queue busy.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from siyu.demo import catalog
from siyu.demo.plan import BrandPlan

DAY = 86400
MINI = f"openid:{catalog.MINI_APPID}"
PHONE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "183", "187",
                  "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "177", "180", "181", "189")
JUNK = (("unionid", "null"), ("unionid", "undefined"), ("phone", "13800138000"), ("phone", "0"))
Idents = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class DemoEvent:
    """A behavioural event, already valid for the events API."""

    t: int
    event_id: str
    type: str
    channel: str | None
    idents: Idents
    props: dict[str, Any]


@dataclass(slots=True)
class DemoOrder:
    """One order fact (paid, or a full/partial refund), money in fen."""

    t: int
    order_id: str
    status: str
    amount_fen: int
    channel: str
    store: str | None
    idents: Idents
    lines: tuple[tuple[str, str, str, int, int], ...] = ()
    refund_fen: int = 0
    refund_id: str | None = None


@dataclass(slots=True)
class Person:
    """A simulated person with profile, identities and facts."""

    index: int
    name: str
    gender: str
    birthday: str
    region: str
    city: str
    source: str
    phone: str
    member_no: str | None
    owner: str | None = None
    gave_phone: bool = False  # put a friend's phone on an order (their identities may then conflict)
    facts: list[DemoEvent | DemoOrder] = field(default_factory=list)


def _token(seed: int, index: int, salt: int) -> str:
    mixed = (index * 2654435761 + seed * 40503 + salt * 97) % (1 << 32)
    return f"{mixed:08x}{index:07d}"


def phone_of(index: int, test_numbers: frozenset[str] = frozenset()) -> str:
    """Return the person's unique mobile number (a bijection of the index, never a test number)."""
    shift = 0
    while True:
        prefix = PHONE_PREFIXES[(index + shift) % len(PHONE_PREFIXES)]
        number = f"{prefix}{(index * 7919 + 12345 + shift) % 10**8:08d}"
        if number not in test_numbers and number not in ("13800138000", "13900139000", "13333333333"):
            return number
        shift += len(PHONE_PREFIXES)


class _Life:
    """The random draws of one person's life, turned into facts.

    Draws go through ``random()`` directly (an index is ``int(random() * n)``): several times
    cheaper than ``randint``/``choice``/``choices``/``sample``, which matters at a million people.
    """

    def __init__(self, plan: BrandPlan, index: int, start: int, end: int):
        self.plan, self.i, self.start, self.end = plan, index, start, end
        self.rng = random.Random((plan.seed << 32) ^ (index * 0x9E3779B1))
        self.r = self.rng.random
        self.k = 0
        self.facts: list[DemoEvent | DemoOrder] = []
        self.order_prefix = f"SC{index:08d}"
        self.idents: dict[str, Idents] = {}  # an order's identities by channel (the same tuple every time)
        s = plan.seed
        self.openid = "o" + _token(s, index, 1)
        self.unionid = "oU" + _token(s, index, 2) if self.r() < 0.75 else None
        self.external = "wm" + _token(s, index, 3)
        self.douyin = "dy" + _token(s, index, 4)

    def between(self, lo: int, hi: int) -> int:
        """Return a uniform integer in [lo, hi]."""
        return lo + int(self.r() * (hi - lo + 1))

    def pick(self, seq: Any) -> Any:
        """Return a uniform element of ``seq``."""
        return seq[int(self.r() * len(seq))]

    def at(self, t: float, hour_lo: int = 9, hour_hi: int = 22) -> int:
        """Return ``t`` moved to a plausible local hour of its day (UTC+8), never past the end."""
        day = int(t) // DAY * DAY
        local = hour_lo * 3600 + int(self.r() * (hour_hi - hour_lo) * 3600)
        return min(day + local - 8 * 3600, self.end - 60)

    def event(self, t: int, type_: str, channel: str | None, idents: Idents, **props: Any) -> None:
        """Record an event of this person."""
        self.k += 1
        self.facts.append(DemoEvent(t, f"ev-{self.i}-{self.k}", type_, channel, idents, props))

    def order_id(self) -> str:
        """Return a new, unique order id of this person."""
        self.k += 1
        return f"SC{self.i:08d}{self.k:04d}"


_CITY_CUM = tuple(itertools.accumulate(c[2] for c in catalog.CITIES))
_SOURCE_CUM = tuple(itertools.accumulate(s[1] for s in catalog.SOURCES))
_SOURCE_CHANNEL = {s[0]: s[2] for s in catalog.SOURCES}
_LINE_COUNTS = (1, 1, 1, 2, 2, 3)
_QUANTITIES = (1, 1, 1, 2)
_CLICKS = ("content_clicked", "content_favourited", "content_clicked", "content_shared")
_SCENES = ("1011", "1047", "1089")


def _weighted(life: _Life, items: Any, cum: tuple[int, ...]) -> Any:
    return items[bisect.bisect_right(cum, life.r() * cum[-1])]


def _profile(life: _Life, plan: BrandPlan) -> Person:
    r = life.r
    gender = "female" if r() < 0.64 else "male"
    pool = catalog.GIVEN_FEMALE if gender == "female" else catalog.GIVEN_MALE
    given = life.pick(pool) + (life.pick(catalog.GIVEN_ANY + pool) if r() < 0.7 else "")
    region, city, _w = _weighted(life, catalog.CITIES, _CITY_CUM)
    year = 2026 - min(60, max(16, int(life.rng.gauss(29, 7))))
    source = _weighted(life, catalog.SOURCES, _SOURCE_CUM)[0]
    member = f"M{life.i + 100000:08d}" if source == "store" or r() < 0.15 else None
    return Person(life.i, life.pick(catalog.SURNAMES) + given, gender,
                  f"{year}-{life.between(1, 12):02d}-{life.between(1, 28):02d}", region, city, source,
                  phone_of(life.i, plan.test_numbers), member)


# Every possible order line, built once: _LINES[pool][product][q] is product ``product`` of the pool
# (goods for taobao/douyin, drinks elsewhere) at the quantity _QUANTITIES[q], with its amount.
_LINES = tuple(tuple(tuple(((sku, name, category, quantity, price), quantity * price) for quantity in _QUANTITIES)
                     for sku, name, category, price in pool) for pool in (catalog.DRINKS_FEN, catalog.GOODS_FEN))
_GOODS_CHANNELS = frozenset({"taobao", "douyin"})


def _order_lines(life: _Life, channel: str) -> tuple[tuple[tuple[str, str, str, int, int], ...], int]:
    """Return an order's lines (distinct products: a partial Fisher-Yates shuffle of the pool) and its amount."""
    table = _LINES[channel in _GOODS_CHANNELS]
    r, size = life.r, len(table)
    count = _LINE_COUNTS[int(r() * 6)]
    j = int(r() * size)  # the first draw of the shuffle: position 0 swaps with j
    line, amount = table[j][int(r() * 4)]
    if count == 1:
        return (line,), amount
    moved = {0: j, j: 0}  # positions the shuffle has swapped (the pool itself is never copied)
    lines = [line]
    for n in range(1, count):
        j = n + int(r() * (size - n))
        chosen = moved.get(j, j)
        moved[j] = moved.get(n, n)
        line, cost = table[chosen][int(r() * 4)]
        lines.append(line)
        amount += cost
    return tuple(lines), amount


def _order_idents(life: _Life, person: Person, channel: str) -> Idents:
    if channel == "mini_program":
        return ((MINI, life.openid), ("phone", person.phone))
    if channel == "store":
        return (("phone", person.phone), ("member_no", person.member_no)) if person.member_no \
            else (("phone", person.phone),)
    if channel == "douyin":
        return (("douyin_openid", life.douyin), ("phone", person.phone))
    return (("phone", person.phone),)


def _buy(life: _Life, person: Person, t: int, channel: str, store: str | None) -> None:
    r = life.r
    lines, amount = _order_lines(life, channel)
    idents = life.idents.get(channel)
    if idents is None:
        idents = life.idents[channel] = _order_idents(life, person, channel)
    if r() < 0.004:  # a gift order with a friend's phone: a unique-kind conflict for review
        idents = ((MINI, life.openid), ("phone", phone_of(life.i + 1, life.plan.test_numbers)))
        person.gave_phone = True
    elif r() < 0.004:
        idents = (*idents, JUNK[int(r() * 2)])  # a placeholder unionid from a buggy client
    life.k += 1
    oid = f"{life.order_prefix}{life.k:04d}"
    facts = life.facts
    facts.append(DemoOrder(t, oid, "paid", amount, channel, store, idents, lines))
    draw = r()
    if draw < 0.035:
        facts.append(DemoOrder(min(t + (1 + int(r() * 3)) * DAY, life.end - 30), oid, "refunded", amount,
                               channel, store, (), (), amount, None))
    elif draw < 0.06 and len(lines) > 1:
        part = lines[0][3] * lines[0][4]
        facts.append(DemoOrder(min(t + (1 + int(r() * 5)) * DAY, life.end - 30), oid, "refunded", amount,
                               channel, store, (), (), part, "r1"))


def _purchases(life: _Life, person: Person, first: int, channels: list[str], store: str | None) -> int:
    """Simulate buying while alive (BG/NBD-like); return the number of orders."""
    rng, r, end = life.rng, life.r, life.end
    rate = rng.gammavariate(2.0, 0.035)  # orders per day while alive
    dropout = rng.betavariate(1.1, 14.0)
    t, n, size, last = float(first), 0, len(channels), end - 60
    while t < end and n < 300:
        channel = channels[int(r() * size)]
        when = int(t) // DAY * DAY + 9 * 3600 + int(r() * 13 * 3600) - 8 * 3600  # life.at(t), inlined
        _buy(life, person, when if when < last else last, channel, store if channel == "store" else None)
        n += 1
        if r() < dropout:
            break
        t += -math.log(1.0 - r()) / rate * DAY + DAY * 0.5  # exponential gap (as expovariate)
    return n


def _awareness(life: _Life, person: Person, t0: int, mini: bool) -> None:
    channel, idents = ("douyin", (("douyin_openid", life.douyin),)) if person.source == "douyin" else \
        ("mini_program", ((MINI, life.openid),))
    if person.source != "douyin" and not mini:
        return
    for n in range(life.between(1, 4)):
        content = life.pick(catalog.CONTENT)
        life.event(life.at(t0 + n * life.between(0, 3) * DAY), "content_viewed", channel, idents,
                   content_id=content[0], topic=content[2])
    if life.r() < 0.65:
        content = life.pick(catalog.CONTENT)
        life.event(life.at(t0 + life.between(0, 5) * DAY), life.pick(_CLICKS), channel, idents,
                   content_id=content[0], topic=content[2])


def _mini_program(life: _Life, t: int) -> None:
    idents: Idents = ((MINI, life.openid), ("unionid", life.unionid)) if life.unionid else ((MINI, life.openid),)
    if life.r() < 0.01:
        idents = ((MINI, life.openid), life.pick(JUNK[:2]))
    life.event(t, "mini_program_opened", "mini_program", idents, scene=life.pick(_SCENES))


def _wecom(life: _Life, person: Person, t: int) -> None:
    plan, r = life.plan, life.r
    code = plan.code_for(person.source, person.city, r)
    staff = plan.pick_staff(code, t, r)
    person.owner = staff
    idents: Idents = (("external_userid", life.external), ("unionid", life.unionid)) if life.unionid \
        else (("external_userid", life.external),)
    life.event(t, "contact_added", "wecom", idents, state=code.state, staff_userid=staff, name=person.name[:1] + "同学")
    ext = (("external_userid", life.external),)
    if r() < 0.35:
        chat_id, group_name = plan.group_for(person.city, r)
        joined = life.at(t + life.between(0, 10) * DAY)
        life.event(joined, "group_joined", "wecom", ext, chat_id=chat_id, group_name=group_name)
        if r() < 0.25:
            life.event(life.at(joined + life.between(3, 200) * DAY), "group_left", "wecom", ext, chat_id=chat_id)
    if r() < 0.12:
        life.event(life.at(t + life.between(1, 300) * DAY), "contact_deleted_by_customer", "wecom", ext,
                   staff_userid=staff)


def simulate(plan: BrandPlan, index: int, start: int, end: int) -> Person:
    """Return person ``index`` with every fact of their life between ``start`` and ``end`` (epoch seconds)."""
    life = _Life(plan, index, start, end)
    r = life.r
    person = _profile(life, plan)
    t0 = life.at(start + (end - start) * r() ** 0.8)
    mini = r() < 0.7
    _awareness(life, person, t0, mini)
    if person.source in ("taobao", "meituan", "store") or r() < 0.7:
        _wecom(life, person, life.at(t0 + life.between(0, 20) * DAY))
    if mini:
        _mini_program(life, life.at(t0 + life.between(0, 30) * DAY))
    own = _SOURCE_CHANNEL.get(person.source)
    channels = [own] if own else []
    channels += ["mini_program"] * (3 if mini else 0) or ["store"]
    store = plan.store_for(person.city, r)
    if person.member_no and "store" not in channels:
        channels.append("store")
    if r() < 0.78:
        orders = _purchases(life, person, t0 + life.between(0, 40) * DAY, channels, store)
        if orders >= 2 and r() < 0.1:
            who = ((MINI, life.openid),) if mini else (("phone", person.phone),)
            life.event(life.at(t0 + life.between(10, 200) * DAY), "invited", "mini_program", who,
                       campaign="老带新", invitee_ref=f"p{index + 7}")
    facts = [f for f in life.facts if f.t < end]
    facts.sort(key=_time_of)
    person.facts = facts
    return person


_time_of = attrgetter("t")


def batches(people: list[Person], size: int) -> Iterator[list[DemoEvent | DemoOrder]]:
    """Yield a block's facts in time order (ties by person, then fact) in batches of ``size``."""
    facts = [f for p in people for f in p.facts]  # people in index order, each person's facts in order
    facts.sort(key=_time_of)  # a stable sort: ties stay by person, then by fact
    for start in range(0, len(facts), size):
        yield facts[start:start + size]
