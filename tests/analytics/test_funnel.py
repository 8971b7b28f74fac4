"""Funnels on every engine equal a plain recomputation from the facts, mode by mode."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from analytics import growth_brand as gb
from siyu.analytics import funnel as F
from siyu.analytics.engines import open_facts
from siyu.analytics.funnel_spec import FunnelParams, InvalidFunnel, Step, parse_steps, parse_window
from siyu.analytics.growth_reports import Where, funnel_report, funnel_segment
from siyu.db.engine import unit_of_work
from siyu.domains.access.principal import CLI
from siyu.domains.segments import service as segments
from siyu.domains.tags import service as tags
from siyu.errors import Conflict
from siyu.kit.time import UTC


@pytest.fixture
def brand(db_engine: Engine, settings: Any) -> Engine:
    return gb.load(db_engine, settings)


def _matches(step: Step, e: Any) -> bool:
    """A plain reading of a step's filters on one event."""
    if step.event is None or e.type != step.event:
        return False
    for c in step.where:
        v = e.properties.get(c.key)
        text = None if v is None else ("true" if v is True else "false" if v is False else str(v))
        try:
            num = float(text) if text is not None else None
        except ValueError:
            num = None
        if c.op == "exists":
            ok = (text is not None) == c.value
        elif c.op == "in":
            ok = text in c.value
        elif c.op in (">", ">=", "<", "<=") or (isinstance(c.value, (int, float)) and not isinstance(c.value, bool)):
            ok = num is not None and {">": num > c.value, ">=": num >= c.value, "<": num < c.value,
                                      "<=": num <= c.value, "=": num == c.value, "!=": num != c.value}[c.op]
        else:
            lit = "true" if c.value is True else "false" if c.value is False else str(c.value)
            ok = text is not None and ((text == lit) if c.op == "=" else (text != lit))
        if not ok:
            return False
    return True


def _bounds(params: FunnelParams, tz: Any) -> tuple[int, int]:
    return (int(datetime.combine(params.start, time.min, tzinfo=tz).timestamp()),
            int(datetime.combine(params.end + timedelta(days=1), time.min, tzinfo=tz).timestamp()))


def _facts(r: gb.Reading, params: FunnelParams, high: int) -> dict[int, list[tuple[Any, ...]]]:
    """Per customer: (t, rank, src, id, set of steps fulfilled), in the documented total order."""
    out: dict[int, list[tuple[Any, ...]]] = {}
    cutoff = datetime.fromtimestamp(high, UTC)
    for e in r.events:
        hit = {j for j, s in enumerate(params.steps, 1) if _matches(s, e)}
        if hit:
            out.setdefault(r.owner[e.identity_id], []).append((int(e.occurred_at.timestamp()), min(hit), 0, e.id, hit))
    for pk, cid, paid_at, amount in r.orders:
        net = r.net(pk, amount, cutoff)
        hit = {j for j, s in enumerate(params.steps, 1) if s.event is None and net > 0 and net >= s.min_amount_fen}
        if hit:
            out.setdefault(cid, []).append((int(paid_at.timestamp()), min(hit), 1, pk, hit))
    for rows in out.values():
        rows.sort(key=lambda f: f[:4])
    return out


def _run(rows: list[tuple[Any, ...]], i: int, params: FunnelParams) -> tuple[int, list[int]]:
    """Return (depth, completion times) of the run entering at rows[i]."""
    n, w, t0 = len(params.steps), params.window_s, rows[i][0]
    if params.mode == "unordered":
        done: list[int] = []
        for k in range(1, n + 1):
            times = [f[0] for f in rows if f[0] >= t0 and k in f[4]]
            if not times or max(min(times), *(done[-1:] or [0])) - t0 > w:
                break
            done.append(max(min(times), *(done[-1:] or [0])))
        return len(done), done
    if 1 not in rows[i][4]:
        return 0, []
    done, at = [t0], i
    for k in range(2, n + 1):
        if params.mode == "strict":
            nxt = at + 1 if at + 1 < len(rows) and k in rows[at + 1][4] else None
        else:
            nxt = next((m for m in range(at + 1, len(rows)) if k in rows[m][4]), None)
        if nxt is None or rows[nxt][0] - t0 > w:
            break
        done.append(rows[nxt][0])
        at = nxt
    return len(done), done


def _reference(r: gb.Reading, params: FunnelParams, tz: Any) -> dict[int, tuple[int, int, list[int]]]:
    """Per entered customer: (depth, entry time, completion times) of the best run."""
    low, after = _bounds(params, tz)
    best: dict[int, tuple[int, int, list[int]]] = {}
    for cid, rows in _facts(r, params, after + params.window_s).items():
        for i, f in enumerate(rows):
            if not low <= f[0] < after:
                continue
            depth, done = _run(rows, i, params)
            if depth and (cid not in best or depth > best[cid][0]):
                best[cid] = (depth, f[0], done)
    return best


def _lower_median(values: list[int]) -> int | None:
    return sorted(values)[(len(values) - 1) // 2] if values else None


def _expected_steps(best: dict[int, tuple[int, int, list[int]]], n: int) -> list[tuple[int, int | None, int | None]]:
    out = []
    for k in range(1, n + 1):
        at = [b for b in best.values() if b[0] >= k]
        prev = [b[2][k - 1] - (b[2][k - 2] if k > 1 else b[1]) for b in at]
        out.append((len(at), _lower_median(prev) if k > 1 else None, _lower_median([b[2][k - 1] - b[1] for b in at])))
    return out


STEPS = parse_steps('[{"event": "content_viewed", "where": {"topic": "护肤"}}, {"event": "contact_added"},'
                    ' {"event": "group_joined"}, {"order": "paid"}]')
CASES = [
    ("ordered-7d", STEPS, "ordered", 7 * 86400),
    ("ordered-1h", STEPS, "ordered", 3600),
    ("strict", STEPS, "strict", 30 * 86400),
    ("unordered", STEPS, "unordered", 10 * 86400),
    ("repeat-step", parse_steps("content_viewed,content_viewed,order"), "ordered", 20 * 86400),
    ("strict-repeat", parse_steps("content_viewed,content_viewed,order"), "strict", 20 * 86400),
    ("filters", parse_steps('[{"event": "content_viewed", "where": {"value": {">=": 15}}},'
                            ' {"event": "content_viewed", "where": {"value": {"in": ["n/a"]}, "topic": {"!=": "彩妆"}}},'
                            ' {"order": "paid", "min_amount": "100.00"}]'), "ordered", 30 * 86400),
]


@pytest.mark.parametrize("name, steps, mode, window", CASES, ids=[c[0] for c in CASES])
def test_steps_equal_the_reference(brand: Engine, settings: Any, tmp_path: Path, name: str, steps: Any, mode: Any,
                                   window: int) -> None:
    params = FunnelParams(steps, date(2026, 5, 10), date(2026, 6, 20), window, mode)
    facts = open_facts(brand, tmp_path)
    try:
        got = F.compute(facts, params, settings.tz)
    finally:
        facts.close()
    best = _reference(gb.read(brand), params, settings.tz)
    expected = _expected_steps(best, len(steps))
    assert [(s.customers, s.median_s_from_previous, s.median_s_from_entry) for s in got.steps] == expected
    assert expected[0][0] > 10 and expected[1][0] > 0  # the brand exercises the steps
    assert window < 86400 or expected[-1][0] > 0


def test_ties_at_the_same_second_count_in_the_funnels_order(brand: Engine, settings: Any, tmp_path: Path) -> None:
    """Customers whose step-1 and step-2 facts share a second convert, in ordered and strict mode alike."""
    r = gb.read(brand)
    params = FunnelParams(parse_steps("contact_added,content_viewed"), date(2026, 5, 1), date(2026, 6, 29), 1, "ordered")
    same = {cid for cid, rows in _facts(r, params, 4102444800).items()
            if any(a[0] == b[0] and 1 in a[4] and 2 in b[4] for a in rows for b in rows)}
    assert same, "the brand has same-second ties"
    for mode in ("ordered", "strict"):
        p = FunnelParams(params.steps, params.start, params.end, 1, mode)
        facts = open_facts(brand, tmp_path)
        try:
            total, rows = F.dropped(facts, p, settings.tz, 2, limit=1000)
            got = F.compute(facts, p, settings.tz)
        finally:
            facts.close()
        assert got.steps[1].customers == len(_expected_after(r, p, settings.tz))
        assert same <= _expected_after(r, p, settings.tz)
        assert total == got.steps[0].customers - got.steps[1].customers == len(rows)


def _expected_after(r: gb.Reading, params: FunnelParams, tz: Any) -> set[int]:
    return {cid for cid, b in _reference(r, params, tz).items() if b[0] >= 2}


@pytest.mark.parametrize("breakdown", ["channel_code", "platform", "staff"])
def test_breakdown_equals_the_reference(brand: Engine, settings: Any, tmp_path: Path, breakdown: str) -> None:
    params = FunnelParams(parse_steps("content_viewed,contact_added,order"), date(2026, 5, 1), date(2026, 6, 29),
                          14 * 86400, "ordered", breakdown)
    facts = open_facts(brand, tmp_path)
    try:
        got = F.compute(facts, params, settings.tz)
    finally:
        facts.close()
    r = gb.read(brand)
    best = _reference(r, params, settings.tz)
    groups: dict[str, dict[int, Any]] = {}
    for cid, b in best.items():
        groups.setdefault(_dimension(r, breakdown, cid, b[1]), {})[cid] = b
    expected = {dim: [s[0] for s in _expected_steps(g, 3)] for dim, g in groups.items()}
    assert {dim: [s.customers for s in steps] for dim, steps in got.breakdown} == expected
    assert len(expected) >= 3
    assert [s.customers for s in got.steps] == [s[0] for s in _expected_steps(best, 3)]


def _dimension(r: gb.Reading, breakdown: str, cid: int, entry: int) -> str:
    c = r.customers[cid]
    if breakdown == "channel_code":
        return "" if c.source_channel_code_id is None else str(c.source_channel_code_id)
    if breakdown == "platform":
        return c.source_platform or ""
    at = datetime.fromtimestamp(entry, UTC)
    open_ = sorted((o.added_at, o.id, o.staff_id) for owner, o in r.ownerships
                   if owner == cid and o.added_at <= at and (o.removed_at is None or o.removed_at > at))
    return str(open_[0][2]) if open_ else ""


def test_dropped_customers_are_listed(brand: Engine, settings: Any, tmp_path: Path) -> None:
    params = FunnelParams(STEPS, date(2026, 5, 1), date(2026, 6, 29), 30 * 86400)
    facts = open_facts(brand, tmp_path)
    try:
        total, page = F.dropped(facts, params, settings.tz, 2, limit=5, offset=2)
        ids = F.dropped_ids(facts, params, settings.tz, 2)
    finally:
        facts.close()
    best = _reference(gb.read(brand), params, settings.tz)
    expected = sorted(cid for cid, b in best.items() if b[0] == 1)
    assert ids == expected and total == len(expected) > 7
    assert [row["customer_id"] for row in page] == expected[2:7]


def test_the_entry_period_is_cut_at_shanghai_midnight(brand: Engine, settings: Any, tmp_path: Path) -> None:
    """A view at 23:59:59 local on the day enters; a view at 00:00:00 the next day does not."""
    r = gb.read(brand)
    views = [(r.owner[e.identity_id], e.occurred_at) for e in r.events if e.type == "content_viewed"]

    def edge(day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=settings.tz)

    def on(day: date) -> set[int]:
        return {cid for cid, at in views if edge(day) - timedelta(days=1) <= at < edge(day)}

    day = next(d for d in (gb.FIRST + timedelta(days=k) for k in range(gb.DAYS))
               if any(at == edge(d) - timedelta(seconds=1) for _, at in views)
               and {cid for cid, at in views if at == edge(d)} - on(d))
    late = {cid for cid, at in views if at == edge(day) - timedelta(seconds=1)}
    early = {cid for cid, at in views if at == edge(day)} - on(day)
    facts = open_facts(brand, tmp_path)
    try:
        got = F.compute(facts, FunnelParams(parse_steps("content_viewed,order"), day, day, 86400), settings.tz)
        ids = F.dropped_ids(facts, FunnelParams(parse_steps("content_viewed,order"), day, day, 86400), settings.tz, 2)
    finally:
        facts.close()
    assert got.steps[0].customers == len(on(day)) and late <= on(day)
    assert not early & set(ids) and len(ids) == got.steps[0].customers - got.steps[1].customers


@pytest.mark.parametrize("raw, message", [
    ("content_viewed", "2–10 steps"),
    ('[{"event": "content_viewed"}, {"evnt": "x"}]', "unknown field"),
    ('[{"event": "Bad Type"}, {"event": "x.y"}]', "event must be an event type"),
    ('[{"event": "a_b", "where": {"n": {"~": 1}}}, {"order": "paid"}]', "unknown operator"),
    ('[{"event": "a_b", "where": {"n": {">": "x"}}}, {"order": "paid"}]', "takes a number"),
    ('[{"event": "a_b", "where": {"bad key": 1}}, {"order": "paid"}]', "top-level name"),
    ('[{"event": "a_b"}, {"order": "paid", "min_amount": "1.234"}]', "more than 2 decimal"),
    ("[{", "not valid JSON"),
])
def test_bad_definitions_say_what_to_fix(raw: str, message: str) -> None:
    with pytest.raises(InvalidFunnel, match=message):
        FunnelParams(parse_steps(raw), date(2026, 5, 1), date(2026, 5, 2)).check(date(2026, 6, 1))


def test_bad_windows_and_periods_are_refused() -> None:
    assert parse_window("36h") == 36 * 3600 and parse_window("90m") == 5400
    with pytest.raises(InvalidFunnel, match="7d, 36h or 90m"):
        parse_window("1w")
    steps = parse_steps("a_b,order")
    with pytest.raises(InvalidFunnel, match="in the future"):
        FunnelParams(steps, date(2026, 5, 1), date(2026, 7, 2)).check(date(2026, 7, 1))
    with pytest.raises(InvalidFunnel, match="after to"):
        FunnelParams(steps, date(2026, 5, 3), date(2026, 5, 2)).check(date(2026, 7, 1))
    with pytest.raises(InvalidFunnel, match="breakdown must be"):
        FunnelParams(steps, date(2026, 5, 1), date(2026, 5, 2), breakdown="city").check(date(2026, 7, 1))


def test_segment_breakdown_and_dropped_customers_become_a_segment(brand: Engine, settings: Any, tmp_path: Path) -> None:
    """Members of two segments (one customer may be in both) each get their funnel; drop-outs become a segment."""
    r = gb.read(brand)
    ids = sorted(r.customers)
    with unit_of_work(brand) as s:
        for name, chosen in (("甲", ids[::3]), ("乙", ids[::2])):
            tags.create_tag(s, f"t{name}", actor="test")
            tags.apply_to_customers(s, f"t{name}", chosen, actor="test")
            segments.create_segment(s, name=name, rule={"tag": f"t{name}"}, actor="test", tz=settings.tz)
        made = {seg.name: seg.id for seg in segments.list_segments(s)}
    where = Where(brand, settings)
    params = FunnelParams(parse_steps("content_viewed,contact_added,order"), date(2026, 5, 1), date(2026, 6, 29),
                          14 * 86400, "ordered", "segment", (made["甲"], made["乙"]))
    out = funnel_report(where, params)
    best = _reference(r, params, settings.tz)
    members = {str(made["甲"]): set(ids[::3]), str(made["乙"]): set(ids[::2])}
    expected = {sid: [s[0] for s in _expected_steps({c: b for c, b in best.items() if c in m}, 3)]
                for sid, m in members.items()}
    expected[None] = [s[0] for s in _expected_steps({c: b for c, b in best.items()
                                                     if not any(c in m for m in members.values())}, 3)]
    assert {g.value: [s.customers for s in g.steps] for g in out.breakdown or []} == expected
    assert {g.label for g in out.breakdown or []} >= {"甲", "乙"}
    plain = FunnelParams(params.steps, params.start, params.end, params.window_s)
    saved = funnel_segment(where, plain, 3, "没下单", "test")
    dropped = sorted(c for c, b in _reference(r, plain, settings.tz).items() if b[0] == 2)
    with unit_of_work(brand, write=False) as s:
        assert sorted(segments.member_ids(s, saved.segment_id, CLI)) == dropped
    assert saved.customers == len(dropped) > 0
    with pytest.raises(Conflict):
        funnel_segment(where, plain, 3, "没下单", "test")  # the name is taken: nothing is half made
