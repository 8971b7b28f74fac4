"""Smart push: choose the item for a customer (or a group) and say why.

Each candidate (active items of a collection, or of the whole library) gets three parts, and the
highest total wins (docs/content.md#reading-an-explanation):

- ``interest_match`` (0..1): the best of the item's topics in the portrait's content-interest scores
  (analytics/interest.py), divided by the portrait's highest score; ``matched_topics`` lists them.
- ``stage_fit`` (0..1): 1 when the item names the portrait's AIPL stage, 0.5 when it names none (fits
  any) or the stage is unknown, 0 when it names only other stages.
- ``bandit_sample`` (0..1): Thompson sampling. Each (item, stage) arm has Beta posteriors over the
  click rate and the conversion rate of its sends, Beta(1 + successes, 1 + failures); one draw of
  each, averaged. A send converted when its customer paid an order within 7 days of it
  (``content_sends.attribution_until``), so the evidence is one grouped query. Arms with little evidence draw widely (exploration); good arms draw high.

``total = 0.4 × interest_match + 0.2 × stage_fit + 0.4 × bandit_sample`` (weights in :class:`Weights`).
Items sent to the customer within ``recent_days`` (for a group: to at least half its members) are
excluded and listed with the reason ``seen_recently``. A group's portrait is its current members'
mean interest scores and their most common stage. The random generator is passed in, so a seeded
one makes choices reproducible (tests, explanations replayed).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from siyu.domains.content import repository as repo
from siyu.domains.content.models import ContentItem
from siyu.domains.groups import service as groups
from siyu.domains.tags import service as tags
from siyu.errors import ValidationFailed
from siyu.kit.time import utcnow


@dataclass(frozen=True)
class Weights:
    """How the parts add up to the total."""

    interest: float = 0.4
    stage: float = 0.2
    bandit: float = 0.4


@dataclass(frozen=True)
class Arm:
    """Evidence of one (item, stage): sends, clicked sends, converted sends."""

    sends: int = 0
    clicks: int = 0
    conversions: int = 0


@dataclass(frozen=True)
class Portrait:
    """What is known of the audience: interest scores by topic, AIPL stage, items seen recently."""

    interests: Mapping[str, float]
    stage: str | None
    seen: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Parts:
    """Why a candidate scored what it did."""

    interest_match: float
    stage_fit: float
    bandit_sample: float
    total: float
    matched_topics: list[str]
    posterior: dict[str, float]


@dataclass(frozen=True)
class Candidate:
    content_id: int
    title: str
    excluded: str | None
    parts: Parts | None


@dataclass
class Choice:
    """The chosen item (None: every candidate excluded) and every candidate's explanation."""

    content_id: int | None
    title: str | None
    segment: str
    candidates: list[Candidate] = field(default_factory=list)


def interest_match(topics: Sequence[str], interests: Mapping[str, float]) -> tuple[float, list[str]]:
    """Return the best topic score relative to the portrait's highest, and the topics that matched."""
    top = max(interests.values(), default=0.0)
    matched = [t for t in topics if interests.get(t, 0.0) > 0]
    if top <= 0 or not matched:
        return 0.0, []
    return max(interests[t] for t in matched) / top, matched


def stage_fit(stages: Sequence[str], stage: str | None) -> float:
    """Return 1 for a named stage, 0.5 when the item names none or the stage is unknown, else 0."""
    if not stages or stage is None:
        return 0.5
    return 1.0 if stage in stages else 0.0


def sample(arm: Arm, rng: random.Random) -> tuple[float, dict[str, float]]:
    """Draw the arm's click and conversion rates from their Beta posteriors; return their mean and the posterior."""
    misses = max(arm.sends - arm.clicks, 0)
    lost = max(arm.sends - arm.conversions, 0)
    theta_click = rng.betavariate(1 + arm.clicks, 1 + misses)
    theta_conv = rng.betavariate(1 + arm.conversions, 1 + lost)
    return (theta_click + theta_conv) / 2, {
        "click_alpha": 1 + arm.clicks, "click_beta": 1 + misses, "conversion_alpha": 1 + arm.conversions,
        "conversion_beta": 1 + lost, "click_draw": round(theta_click, 6), "conversion_draw": round(theta_conv, 6)}


def score(item: ContentItem, portrait: Portrait, arm: Arm, rng: random.Random, weights: Weights = Weights()) -> Parts:
    """Return a candidate's parts and total for a portrait."""
    interest, matched = interest_match(item.topics or [], portrait.interests)
    fit = stage_fit(item.stages or [], portrait.stage)
    drawn, posterior = sample(arm, rng)
    total = weights.interest * interest + weights.stage * fit + weights.bandit * drawn
    return Parts(round(interest, 6), fit, round(drawn, 6), round(total, 6), matched, posterior)


def choose(items: Sequence[ContentItem], portrait: Portrait, arms: Mapping[tuple[int, str], Arm],
           rng: random.Random, weights: Weights = Weights()) -> Choice:
    """Score every candidate for a portrait and return the best with every explanation."""
    segment = portrait.stage or "none"
    out = Choice(None, None, segment)
    best = -1.0
    for item in items:
        if item.id in portrait.seen:
            out.candidates.append(Candidate(item.id, item.title, "seen_recently", None))
            continue
        parts = score(item, portrait, arms.get((item.id, segment), Arm()), rng, weights)
        out.candidates.append(Candidate(item.id, item.title, None, parts))
        if parts.total > best:
            best, out.content_id, out.title = parts.total, item.id, item.title
    out.candidates.sort(key=lambda c: (c.parts is None, -(c.parts.total if c.parts else 0), c.content_id))
    return out


def candidates(session: Session, collection: int | str | None) -> list[ContentItem]:
    """Return the active items of a collection (by id or name), or of the whole library."""
    if collection is None:
        return repo.items(session, kind=None, status="active", topic=None, q=None, limit=500)
    row = repo.collection(session, collection)
    if row is None:
        raise ValidationFailed(f"no content collection {collection!r}", code="collection_not_found", status=404)
    ids = repo.collection_items(session, row.id)
    order = {c: i for i, c in enumerate(ids)}
    rows = repo.items(session, kind=None, status="active", topic=None, q=None, ids=ids, limit=500)
    return sorted(rows, key=lambda r: order[r.id])


def arms(session: Session, content_ids: Sequence[int]) -> dict[tuple[int, str], Arm]:
    """Return the evidence of every (item, stage) arm: sends, clicked sends, sends converted within 7 days."""
    return {(c, stage): Arm(n, k, v) for c, stage, n, k, v in repo.arm_stats(session, content_ids)}


def portrait(session: Session, customer_ids: Sequence[int], *, recent_days: int, now: datetime) -> Portrait:
    """Return the portrait of one customer or the mean portrait of a group's members."""
    if not customer_ids:
        raise ValidationFailed("the group has no current members", code="empty_audience")
    totals: dict[str, float] = defaultdict(float)
    for s in tags.interest_scores(session, customer_ids):
        totals[s.topic] += s.score
    interests = {t: v / len(customer_ids) for t, v in totals.items()}
    stages = Counter(st for st in repo.stages(session, customer_ids).values() if st)
    stage = stages.most_common(1)[0][0] if stages else None
    sent = Counter(c for _cust, c in repo.recently_sent(session, customer_ids, now - timedelta(days=recent_days)))
    seen = frozenset(c for c, n in sent.items() if n * 2 >= len(customer_ids))
    return Portrait(interests, stage, seen)


def recommend(session: Session, customer_ids: Sequence[int], *, collection: int | str | None = None,
              rng: random.Random | None = None, recent_days: int = 14, now: datetime | None = None) -> Choice:
    """Choose the item for these customers (one customer, or a group's members) with explanations."""
    if not 0 <= recent_days <= 365:
        raise ValidationFailed("recent_days must be between 0 and 365", code="invalid_recent_days")
    items = candidates(session, collection)
    who = portrait(session, customer_ids, recent_days=recent_days, now=now or utcnow())
    return choose(items, who, arms(session, [i.id for i in items]), rng or random.Random())


def best_item(session: Session, customer_id: int, collection: int | str | None = None, *,
              rng: random.Random | None = None) -> int | None:
    """Return the best item of ``collection`` (or of the library) for one customer, None if all are excluded."""
    return recommend(session, [customer_id], collection=collection, rng=rng).content_id


def recommend_each(session: Session, customer_ids: Sequence[int], *, collection: int | str | None,
                   rng: random.Random, recent_days: int = 14, now: datetime | None = None) -> dict[int, Choice]:
    """Choose an item for each customer separately (a mass message from a collection), reading in bulk."""
    items = candidates(session, collection)
    evidence = arms(session, [i.id for i in items])
    interests: dict[int, dict[str, float]] = defaultdict(dict)
    for s in tags.interest_scores(session, customer_ids):
        interests[s.customer_id][s.topic] = s.score
    stages = repo.stages(session, customer_ids)
    seen: dict[int, set[int]] = defaultdict(set)
    for c, item in repo.recently_sent(session, customer_ids, (now or utcnow()) - timedelta(days=recent_days)):
        seen[c].add(item)
    return {c: choose(items, Portrait(interests.get(c, {}), stages.get(c), frozenset(seen.get(c, ()))), evidence, rng)
            for c in customer_ids}


def group_customer_ids(session: Session, group_id: int) -> list[int]:
    """Return the live customers currently in a group."""
    ids: list[int] = []
    cursor = None
    while True:
        page = groups.member_rows(session, group_id, after_id=cursor, limit=500)
        ids.extend(r.customer_id for r in page.items)
        if page.next_cursor is None:
            return list(dict.fromkeys(ids))
        cursor = page.next_cursor
