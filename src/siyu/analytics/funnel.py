"""Funnels: of the customers who did step 1 in a period, how many went on to each next step.

Definitions (docs/analytics.md#funnels), one Ibis expression on every engine:

- **Facts** are the events of a step's type that pass its property filters, and for an order step the
  customer's paid orders (by payment time) whose value net of the refunds known by the end of the last
  possible step is above zero and at least ``min_amount``. Facts of every identity count for the
  customer (OneID; a merged customer's for the survivor).
- **Order of facts**: by time (whole seconds); at the same second by the first step a fact can fulfil
  (so same-second facts count in the funnel's favour), then by kind and id. This total order makes
  every answer reproducible; one fact fulfils at most one step in ordered and strict mode.
- **Entering**: a step-1 fact (in unordered mode any tracked fact) in the entry period, brand days
  ``start`` … ``end`` inclusive. A customer reaches step k from an entry when the entry's run reaches
  k with every step at most ``window`` seconds after the entry.
- **Modes**: ``ordered`` — steps in order, anything in between (the earliest next fact is taken, which
  reaches every step any run from that entry can); ``strict`` — each step's fact is the very next
  tracked fact (a fact matching any step of the funnel) after the previous step's, so no other
  tracked step happens in between; ``unordered`` — the first k steps all happen within the window
  after the entry, in any order (a fact may fulfil several steps).
- **A customer counts once**, by their best run: the deepest, then the earliest entry. Step times
  come from that run: time to convert is measured from the previous step and from the entry, and
  reported as the lower median (the middle value; of an even count the smaller middle one), in
  seconds.
- **Breakdown**: by the customer's acquiring channel code or source platform (first touch, as the
  customer record holds it), by the staff member whose follow relation was open at the entry (the
  earliest added of several; ``none`` without one), or by membership of chosen segments now (a
  customer in several counts in each).
- **Dropped at step N**: customers whose best run reached step N-1 but not N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
from ibis import _

from siyu.analytics.engines import Facts
from siyu.analytics.funnel_spec import FunnelParams, InvalidFunnel, Step, condition_expr
from siyu.analytics.purchases import during, paid_order_rows

NONE = ""  # the breakdown value of customers without one (no code, platform or owner)


@dataclass
class StepResult:
    """One step: customers who reached it and how fast (seconds; None when nobody did)."""

    step: int
    label: str
    customers: int
    median_s_from_previous: int | None
    median_s_from_entry: int | None


@dataclass
class FunnelResult:
    """Per step counts overall, and per breakdown value when a breakdown was asked for."""

    params: FunnelParams
    engine: str
    steps: list[StepResult]
    breakdown: list[tuple[str, list[StepResult]]] = field(default_factory=list)


def bounds(params: FunnelParams, tz: ZoneInfo) -> tuple[int, int]:
    """Return the epoch seconds of the entry period's first instant and of the instant after it."""
    first = datetime.combine(params.start, time.min, tzinfo=tz)
    after = datetime.combine(params.end + timedelta(days=1), time.min, tzinfo=tz)
    return int(first.timestamp()), int(after.timestamp())


def _step_flags(facts: Facts, steps: tuple[Step, ...], table: ibis.Table, kind: str) -> dict[str, Any]:
    """Return m1…mn: whether each row (an event, or with kind 'order' a paid order) fulfils each step."""
    flags = {}
    for j, step in enumerate(steps, 1):
        if kind == "order":
            flag = ibis.literal(step.event is None) & (table.net > 0) & (table.net >= step.min_amount_fen)
        elif step.event is None:
            flag = ibis.literal(False)
        else:
            flag = table.type == step.event
            for cond in step.where:
                flag = flag & condition_expr(facts.engine, table.properties, cond)
        flags[f"m{j}"] = flag
    return flags


def tracked(facts: Facts, params: FunnelParams, low: int, high: int) -> ibis.Table:
    """Return the facts matching any step between epoch seconds ``low`` and ``high`` (excluded), ordered.

    Columns: customer_id, t, rank (first step fulfilled), src (0 event, 1 order), fid, m1…mn, pos
    (the fact's place among its customer's, 0-based).
    """
    steps, n = params.steps, len(params.steps)
    parts = []
    types = sorted({s.event for s in steps if s.event is not None})
    if types:
        ev = facts.table("events")  # customer_id: the event's identity's customer now (OneID)
        ev = ev.filter(during(facts, ev.occurred_at, low, high) & ev.type.isin(types) & ev.customer_id.notnull())
        ev = ev.mutate(t=ev.occurred_at.epoch_seconds().floor().cast("int64"))
        parts.append(ev.select(customer_id=ev.customer_id, t=ev.t, src=ibis.literal(0, "int8"), fid=ev.id,
                               **_step_flags(facts, steps, ev, "event")))
    if any(s.event is None for s in steps):
        paid = paid_order_rows(facts, high, low)
        parts.append(paid.select(customer_id=paid.customer_id, t=paid.paid_s, src=ibis.literal(1, "int8"),
                                 fid=paid.order_pk, **_step_flags(facts, steps, paid, "order")))
    rows = parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)
    flags = [rows[f"m{j}"] for j in range(1, n + 1)]
    any_flag = flags[0]
    for f in flags[1:]:
        any_flag = any_flag | f
    rows = rows.filter(any_flag)
    rank = ibis.cases(*[(flags[j], j + 1) for j in range(n)], else_=n + 1)
    rows = rows.mutate(rank=rank.cast("int8"))
    return rows.mutate(pos=ibis.row_number().over(group_by="customer_id", order_by=_order(rows)))


def _order(rows: ibis.Table) -> list[Any]:
    return [rows.t, rows.rank, rows.src, rows.fid]


def runs(facts: Facts, params: FunnelParams, tz: ZoneInfo) -> ibis.Table:
    """Return every entry's run: customer_id, pos, entry (t), depth and c1…cn (when each step completed)."""
    low, after = bounds(params, tz)
    rows = tracked(facts, params, low, after + params.window_s)
    if params.mode == "strict":
        out = _strict(rows, params, low, after)
    elif params.mode == "unordered":
        out = _unordered(rows, params, low, after)
    else:
        out = _ordered(rows, params, low, after)
    return out.filter(out.depth >= 1)


def _ordered(rows: ibis.Table, params: FunnelParams, low: int, after: int) -> ibis.Table:
    """Greedy runs: from each step-1 fact, the earliest fact of each next step after the previous one."""
    n, w = len(params.steps), params.window_s
    later = ibis.window(group_by="customer_id", order_by=_order(rows), rows=(1, None))
    rows = rows.mutate(**{f"nx{j}": ibis.cases((rows[f"m{j}"], rows.pos)).min().over(later) for j in range(2, n + 1)})
    chain = rows.filter(rows.m1 & (rows.t >= low) & (rows.t < after))
    chain = chain.select("customer_id", "pos", entry=chain.t, c1=chain.t, nxt=chain.nx2)
    for j in range(2, n + 1):
        look = rows.select(k_customer="customer_id", k_pos="pos", k_t="t",
                           k_next=rows[f"nx{j + 1}"] if j < n else ibis.null("int64"))
        chain = chain.left_join(look, (chain.customer_id == look.k_customer) & (chain.nxt == look.k_pos))
        chain = chain.select(*[c for c in chain.columns if not c.startswith("k_") and c != "nxt"],
                             **{f"c{j}": chain.k_t}, nxt=chain.k_next)
    depth = ibis.literal(1)
    for j in range(2, n + 1):  # completion times only grow along a run: count the steps within the window
        depth = depth + ibis.cases((chain[f"c{j}"].notnull() & (chain[f"c{j}"] - chain.entry <= w), 1), else_=0)
    return chain.mutate(depth=depth).drop("nxt")


def _strict(rows: ibis.Table, params: FunnelParams, low: int, after: int) -> ibis.Table:
    """Runs of consecutive tracked facts: step j's fact is the (j-1)th tracked fact after the entry."""
    n, w = len(params.steps), params.window_s
    win = ibis.window(group_by="customer_id", order_by=_order(rows))
    ahead = {f"c{j}": rows.t.lead(j - 1).over(win) for j in range(2, n + 1)}
    ahead.update({f"ok{j}": rows[f"m{j}"].lead(j - 1).over(win) for j in range(2, n + 1)})
    rows = rows.mutate(**ahead)
    rows = rows.filter(rows.m1 & (rows.t >= low) & (rows.t < after))
    depth, alive = ibis.literal(1), ibis.literal(True)
    for j in range(2, n + 1):
        alive = alive & rows[f"ok{j}"].fill_null(False) & (rows[f"c{j}"] - rows.t <= w).fill_null(False)
        depth = depth + ibis.cases((alive, 1), else_=0)
    return rows.select("customer_id", "pos", entry=rows.t, c1=rows.t, depth=depth,
                       **{f"c{j}": rows[f"c{j}"] for j in range(2, n + 1)})


def _unordered(rows: ibis.Table, params: FunnelParams, low: int, after: int) -> ibis.Table:
    """Runs from every tracked fact: step k is complete when each of steps 1…k has a fact since the entry."""
    n, w = len(params.steps), params.window_s
    onward = ibis.window(group_by="customer_id", order_by=_order(rows), rows=(0, None))
    rows = rows.mutate(**{f"n{j}": ibis.cases((rows[f"m{j}"], rows.t)).min().over(onward) for j in range(1, n + 1)})
    rows = rows.filter((rows.t >= low) & (rows.t < after))
    depth, alive, done = ibis.literal(0), ibis.literal(True), {}
    for k in range(1, n + 1):
        nk = rows[f"n{k}"]
        done[f"c{k}"] = nk if k == 1 else ibis.greatest(done[f"c{k - 1}"], nk)
        alive = alive & nk.notnull() & (done[f"c{k}"] - rows.t <= w).fill_null(False)
        depth = depth + ibis.cases((alive, 1), else_=0)
    return rows.select("customer_id", "pos", entry=rows.t, depth=depth,
                       **{name: ibis.cases((depth >= k, expr), else_=ibis.null("int64"))
                          for k, (name, expr) in enumerate(done.items(), 1)})


def best_runs(facts: Facts, params: FunnelParams, tz: ZoneInfo) -> ibis.Table:
    """Return each entered customer's best run (deepest, then earliest entry)."""
    r = runs(facts, params, tz)
    ranked = r.mutate(rn=ibis.row_number().over(group_by="customer_id", order_by=[r.depth.desc(), r.entry, r.pos]))
    return ranked.filter(ranked.rn == 0).drop("rn", "pos")


def with_dimension(facts: Facts, best: ibis.Table, breakdown: str | None,
                   members: dict[int, list[int]] | None = None) -> ibis.Table:
    """Add ``dim``: the breakdown value of each customer as text ('' for none).

    For ``segment``, ``members`` maps segment ids to their member ids (read from the segments service);
    a customer in several segments counts in each, one in none under ''.
    """
    if breakdown is None:
        return best.mutate(dim=ibis.literal(NONE))
    if breakdown == "segment":
        pairs = [(c, str(sid)) for sid, ids in sorted((members or {}).items()) for c in ids]
        table = ibis.memtable({"m_customer": [c for c, _ in pairs] or [0], "m_dim": [d for _, d in pairs] or [NONE]},
                              schema={"m_customer": "int64", "m_dim": "string"})
        inside = best.inner_join(table, best.customer_id == table.m_customer)
        inside = inside.mutate(dim=inside.m_dim).drop("m_customer", "m_dim")
        outside = best.anti_join(table, best.customer_id == table.m_customer).mutate(dim=ibis.literal(NONE))
        return inside.union(outside.select(*inside.columns), distinct=False)
    if breakdown == "staff":
        return best.left_join(owner_at_entry(facts, best), "customer_id").mutate(
            dim=_.staff_id.cast("string").fill_null(NONE)).drop("staff_id")
    cust = facts.table("customers")
    column = cust.source_channel_code_id.cast("string") if breakdown == "channel_code" else cust.source_platform
    dims = cust.select(customer_id=cust.id, dim=column.fill_null(NONE))
    return best.left_join(dims, "customer_id").mutate(dim=_.dim.fill_null(NONE))


def owner_at_entry(facts: Facts, best: ibis.Table) -> ibis.Table:
    """Return (customer_id, staff_id): the earliest added follow relation open at each run's entry."""
    own, idents = facts.table("ownerships"), facts.table("identities")
    rel = own.inner_join(idents, own.identity_id == idents.id).select(
        o_customer=_.customer_id, staff_id=_.staff_id, oid=_.id,
        added=_.added_at.epoch_seconds().floor().cast("int64"), removed=_.removed_at.epoch_seconds().floor().cast("int64"))
    pairs = best.select("customer_id", "entry").inner_join(rel, _.customer_id == rel.o_customer)
    pairs = pairs.filter((pairs.added <= pairs.entry) & (pairs.removed.isnull() | (pairs.removed > pairs.entry)))
    ranked = pairs.mutate(rn=ibis.row_number().over(group_by="customer_id", order_by=[pairs.added, pairs.oid]))
    return ranked.filter(ranked.rn == 0).select("customer_id", "staff_id")


def step_table(rows: ibis.Table, n: int) -> ibis.Table:
    """Return (g, dim, k, customers, med_prev, med_entry): lower medians of the seconds to convert.

    ``rows`` carries ``g`` (0: everyone, 1: one breakdown value) so the overall funnel and its
    breakdown come from one query. Each run becomes one row per step it reached by a join with the
    step numbers, so the runs are read once (a union per step made the engine compute them n times).
    """
    ks = ibis.memtable({"k": list(range(1, n + 1))}, schema={"k": "int64"})
    lv = rows.cross_join(ks)
    lv = lv.filter(lv.depth >= lv.k)
    done = ibis.cases(*[(lv.k == k, lv[f"c{k}"]) for k in range(1, n + 1)])
    before = ibis.cases((lv.k == 1, lv.entry), *[(lv.k == k, lv[f"c{k - 1}"]) for k in range(2, n + 1)])
    levels = lv.select("g", "dim", "k", d_prev=(done - before).cast("int64"), d_entry=(done - lv.entry).cast("int64"))
    group = ["g", "dim", "k"]
    lv = levels.mutate(cnt=levels.k.count().over(group_by=group),
                       rp=ibis.row_number().over(group_by=group, order_by=[levels.d_prev]),
                       re=ibis.row_number().over(group_by=group, order_by=[levels.d_entry]))
    mid = (lv.cnt - 1) // 2
    return lv.group_by(group).aggregate(customers=lv.cnt.max(),
                                        med_prev=ibis.cases((lv.rp == mid, lv.d_prev)).max(),
                                        med_entry=ibis.cases((lv.re == mid, lv.d_entry)).max())


def _groups(facts: Facts, best: ibis.Table, params: FunnelParams,
            members: dict[int, list[int]] | None) -> ibis.Table:
    """Return the runs with ``g`` and ``dim``: once for everyone (g 0) and once per breakdown value (g 1)."""
    everyone = best.mutate(g=ibis.literal(0, "int8"), dim=ibis.literal(NONE))
    if not params.breakdown:
        return everyone
    split = with_dimension(facts, best, params.breakdown, members)
    if params.breakdown == "segment":  # a customer may be in several segments: everyone needs its own rows
        return everyone.union(split.mutate(g=ibis.literal(1, "int8")).select(*everyone.columns), distinct=False)
    both = split.cross_join(ibis.memtable({"g": [0, 1]}, schema={"g": "int8"}))  # one dimension row each
    return both.mutate(dim=ibis.cases((both.g == 0, ibis.literal(NONE)), else_=both.dim)).select(*everyone.columns)


def compute(facts: Facts, params: FunnelParams, tz: ZoneInfo,
            members: dict[int, list[int]] | None = None) -> FunnelResult:
    """Return the customers reaching each step (and per breakdown value) with median times to convert."""
    groups = _groups(facts, best_runs(facts, params, tz), params, members)
    cells: dict[tuple[int, str], dict[int, dict[str, Any]]] = {}
    for row in step_table(groups, len(params.steps)).to_pyarrow().to_pylist():
        cells.setdefault((int(row["g"]), row["dim"]), {})[int(row["k"])] = row
    labels = [s.label() for s in params.steps]
    result = FunnelResult(params, facts.engine, _steps(cells.get((0, NONE), {}), labels))
    if params.breakdown:
        result.breakdown = sorted(((dim, _steps(c, labels)) for (g, dim), c in cells.items() if g == 1),
                                  key=lambda item: (-item[1][0].customers, item[0]))
    return result


def _steps(cells: dict[int, dict[str, Any]], labels: list[str]) -> list[StepResult]:
    out = []
    for k, label in enumerate(labels, 1):
        cell = cells.get(k)
        out.append(StepResult(k, label, int(cell["customers"]) if cell else 0,
                              _int(cell["med_prev"]) if cell and k > 1 else None,
                              _int(cell["med_entry"]) if cell else None))
    return out


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _check_step(params: FunnelParams, step: int) -> None:
    if not 2 <= step <= len(params.steps):
        raise InvalidFunnel(f"customers drop at step 2–{len(params.steps)} of this funnel, not {step}")


def dropped(facts: Facts, params: FunnelParams, tz: ZoneInfo, step: int, *, limit: int = 100,
            offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """Return how many customers dropped at ``step`` (reached step-1, not step) and one page of them."""
    _check_step(params, step)
    best = best_runs(facts, params, tz)
    gone = best.filter(best.depth == step - 1)
    total = int(gone.count().to_pyarrow().as_py())
    page = gone.select("customer_id", "entry", last=gone[f"c{step - 1}"]).order_by("customer_id")
    rows = page.limit(limit, offset=offset).to_pyarrow().to_pylist()
    return total, rows


def dropped_ids(facts: Facts, params: FunnelParams, tz: ZoneInfo, step: int) -> list[int]:
    """Return every customer id that dropped at ``step`` (for turning them into a segment)."""
    _check_step(params, step)
    best = best_runs(facts, params, tz)
    gone = best.filter(best.depth == step - 1).select("customer_id").order_by("customer_id")
    return [int(v) for v in gone.to_pyarrow().column("customer_id").to_pylist()]
