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

import random
from dataclasses import dataclass, field
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
    """The random draws of one person's life, turned into facts."""

    def __init__(self, plan: BrandPlan, index: int, start: int, end: int):
        self.plan, self.i, self.start, self.end = plan, index, start, end
        self.rng = random.Random((plan.seed << 32) ^ (index * 0x9E3779B1))
        self.k = 0
        self.facts: list[DemoEvent | DemoOrder] = []
        s = plan.seed
        self.openid = "o" + _token(s, index, 1)
        self.unionid = "oU" + _token(s, index, 2) if self.rng.random() < 0.75 else None
        self.external = "wm" + _token(s, index, 3)
        self.douyin = "dy" + _token(s, index, 4)

    def at(self, t: float, hour_lo: int = 9, hour_hi: int = 22) -> int:
        """Return ``t`` moved to a plausible local hour of its day (UTC+8), never past the end."""
        day = int(t) // DAY * DAY
        local = self.rng.randint(hour_lo * 3600, hour_hi * 3600 - 1)
        return min(day + local - 8 * 3600, self.end - 60)

    def event(self, t: int, type_: str, channel: str | None, idents: Idents, **props: Any) -> None:
        """Record an event of this person."""
        self.k += 1
        self.facts.append(DemoEvent(t, f"ev-{self.i}-{self.k}", type_, channel, idents, props))

    def order_id(self) -> str:
        """Return a new, unique order id of this person."""
        self.k += 1
        return f"SC{self.i:08d}{self.k:04d}"


def _profile(life: _Life, plan: BrandPlan) -> Person:
    rng = life.rng
    gender = "female" if rng.random() < 0.64 else "male"
    pool = catalog.GIVEN_FEMALE if gender == "female" else catalog.GIVEN_MALE
    given = rng.choice(pool) + (rng.choice(catalog.GIVEN_ANY + pool) if rng.random() < 0.7 else "")
    region, city, _w = rng.choices(catalog.CITIES, weights=[c[2] for c in catalog.CITIES])[0]
    year = 2026 - min(60, max(16, int(rng.gauss(29, 7))))
    source = rng.choices(catalog.SOURCES, weights=[s[1] for s in catalog.SOURCES])[0][0]
    member = f"M{life.i + 100000:08d}" if source == "store" or rng.random() < 0.15 else None
    return Person(life.i, rng.choice(catalog.SURNAMES) + given, gender, f"{year}-{rng.randint(1, 12):02d}-"
                  f"{rng.randint(1, 28):02d}", region, city, source, phone_of(life.i, plan.test_numbers), member)


def _order_lines(rng: random.Random, channel: str) -> tuple[tuple[str, str, str, int, int], ...]:
    pool = catalog.GOODS if channel in ("taobao", "douyin") else catalog.DRINKS
    picks = rng.sample(pool, rng.choice((1, 1, 1, 2, 2, 3)))
    return tuple((sku, name, cat, rng.choice((1, 1, 1, 2)), int(price * 100)) for sku, name, cat, price in picks)


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
    rng = life.rng
    lines = _order_lines(rng, channel)
    amount = sum(q * p for _s, _n, _c, q, p in lines)
    idents = _order_idents(life, person, channel)
    if rng.random() < 0.004:  # a gift order with a friend's phone: a unique-kind conflict for review
        idents = ((MINI, life.openid), ("phone", phone_of(life.i + 1, life.plan.test_numbers)))
    elif rng.random() < 0.004:
        idents = (*idents, rng.choice(JUNK[:2]))  # a placeholder unionid from a buggy client
    oid = life.order_id()
    life.facts.append(DemoOrder(t, oid, "paid", amount, channel, store, idents, lines))
    draw = rng.random()
    if draw < 0.035:
        life.facts.append(DemoOrder(min(t + rng.randint(1, 3) * DAY, life.end - 30), oid, "refunded", amount,
                                    channel, store, (), refund_fen=amount, refund_id=None))
    elif draw < 0.06 and len(lines) > 1:
        part = lines[0][3] * lines[0][4]
        life.facts.append(DemoOrder(min(t + rng.randint(1, 5) * DAY, life.end - 30), oid, "refunded", amount,
                                    channel, store, (), refund_fen=part, refund_id="r1"))


def _purchases(life: _Life, person: Person, first: int, channels: list[str], store: str | None) -> int:
    """Simulate buying while alive (BG/NBD-like); return the number of orders."""
    rng = life.rng
    rate = rng.gammavariate(2.0, 0.035)  # orders per day while alive
    dropout = rng.betavariate(1.1, 14.0)
    t, n = float(first), 0
    while t < life.end and n < 300:
        channel = rng.choice(channels)
        _buy(life, person, life.at(t), channel, store if channel == "store" else None)
        n += 1
        if rng.random() < dropout:
            break
        t += rng.expovariate(rate) * DAY + DAY * 0.5
    return n


def _awareness(life: _Life, person: Person, t0: int, mini: bool) -> None:
    rng = life.rng
    channel, idents = ("douyin", (("douyin_openid", life.douyin),)) if person.source == "douyin" else \
        ("mini_program", ((MINI, life.openid),))
    if person.source != "douyin" and not mini:
        return
    for n in range(rng.randint(1, 4)):
        content = rng.choice(catalog.CONTENT)
        life.event(life.at(t0 + n * rng.randint(0, 3) * DAY), "content_viewed", channel, idents,
                   content_id=content[0], topic=content[2])
    if rng.random() < 0.65:
        content = rng.choice(catalog.CONTENT)
        kind = rng.choice(("content_clicked", "content_favourited", "content_clicked", "content_shared"))
        life.event(life.at(t0 + rng.randint(0, 5) * DAY), kind, channel, idents, content_id=content[0],
                   topic=content[2])


def _mini_program(life: _Life, t: int) -> None:
    idents: Idents = ((MINI, life.openid), ("unionid", life.unionid)) if life.unionid else ((MINI, life.openid),)
    if life.rng.random() < 0.01:
        idents = ((MINI, life.openid), JUNK[life.rng.randrange(2)])
    life.event(t, "mini_program_opened", "mini_program", idents, scene=life.rng.choice(("1011", "1047", "1089")))


def _wecom(life: _Life, person: Person, t: int) -> None:
    rng, plan = life.rng, life.plan
    code = plan.code_for(person.source, person.city, rng)
    staff = plan.pick_staff(code, t, rng)
    person.owner = staff
    idents: Idents = (("external_userid", life.external), ("unionid", life.unionid)) if life.unionid \
        else (("external_userid", life.external),)
    life.event(t, "contact_added", "wecom", idents, state=code.state, staff_userid=staff, name=person.name[:1] + "同学")
    ext = (("external_userid", life.external),)
    if rng.random() < 0.35:
        chat_id, group_name = plan.group_for(person.city, rng)
        joined = life.at(t + rng.randint(0, 10) * DAY)
        life.event(joined, "group_joined", "wecom", ext, chat_id=chat_id, group_name=group_name)
        if rng.random() < 0.25:
            life.event(life.at(joined + rng.randint(3, 200) * DAY), "group_left", "wecom", ext, chat_id=chat_id)
    if rng.random() < 0.12:
        life.event(life.at(t + rng.randint(1, 300) * DAY), "contact_deleted_by_customer", "wecom", ext,
                   staff_userid=staff)


def simulate(plan: BrandPlan, index: int, start: int, end: int) -> Person:
    """Return person ``index`` with every fact of their life between ``start`` and ``end`` (epoch seconds)."""
    life = _Life(plan, index, start, end)
    rng = life.rng
    person = _profile(life, plan)
    t0 = life.at(start + (end - start) * rng.random() ** 0.8)
    mini = rng.random() < 0.7
    _awareness(life, person, t0, mini)
    if person.source in ("taobao", "meituan", "store") or rng.random() < 0.7:
        _wecom(life, person, life.at(t0 + rng.randint(0, 20) * DAY))
    if mini:
        _mini_program(life, life.at(t0 + rng.randint(0, 30) * DAY))
    channels = [c for c in (dict((s[0], s[2]) for s in catalog.SOURCES).get(person.source),) if c]
    channels += ["mini_program"] * (3 if mini else 0) or ["store"]
    store = plan.store_for(person.city, rng)
    if person.member_no and "store" not in channels:
        channels.append("store")
    if rng.random() < 0.78:
        orders = _purchases(life, person, t0 + rng.randint(0, 40) * DAY, channels, store)
        if orders >= 2 and rng.random() < 0.1:
            who = ((MINI, life.openid),) if mini else (("phone", person.phone),)
            life.event(life.at(t0 + rng.randint(10, 200) * DAY), "invited", "mini_program", who,
                       campaign="老带新", invitee_ref=f"p{index + 7}")
    life.facts = [f for f in life.facts if f.t < end]
    life.facts.sort(key=lambda f: f.t)
    person.facts = life.facts
    return person
