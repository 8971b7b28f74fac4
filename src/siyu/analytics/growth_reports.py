"""The funnel, GMV, repurchase, value, attribution and staff reports as the three faces show them.

Each report opens the facts on the engine, runs the analysis, releases the engine, and adds what the
operational store knows (channel code and staff names, entered costs, WeCom reply statistics)
through the owning domains' services. The CLI, the API and the console call these, so the three
faces give the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine

from siyu.analytics import attribution, cohort_value, funnel, gmv, repurchase, staff_performance
from siyu.analytics.engines import Facts, open_facts
from siyu.analytics.funnel_spec import FunnelParams
from siyu.analytics.growth_schemas import (AttributionOut, AttributionRowOut, DroppedCustomerOut, FunnelDroppedOut,
                                           FunnelGroupOut, FunnelOut, FunnelParamsOut, FunnelSegmentOut, FunnelStepOut, GmvOut,
                                           RepurchaseOut, StaffPerformanceOut, StaffRowOut, ValueOut, ValueRowOut)
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains.channel_codes.service import code_names
from siyu.domains.channel_costs.service import costs_between
from siyu.domains.access import Principal
from siyu.domains.access.principal import CLI
from siyu.domains.segments import service as segments
from siyu.domains.staff import staff_by_ids
from siyu.domains.tags import service as tags
from siyu.domains.staff.behavior import response_between
from siyu.kit.money import CENT, from_fen

T = TypeVar("T")
FUNNEL_TAG_GROUP = "漏斗流失"  # the tags that hold funnel drop-off segments


@dataclass(frozen=True)
class Where:
    """The store, its settings and the engine asked for (``auto``: DuckDB on SQLite, PostgreSQL in place)."""

    store: Engine
    settings: Settings
    engine: str = "auto"

    def run(self, analysis: Callable[[Facts], T]) -> T:
        """Return ``analysis`` run on the facts, releasing the engine afterwards."""
        facts = open_facts(self.store, self.settings.data_dir, self.engine, master=self.settings.spark_master)
        try:
            return analysis(facts)
        finally:
            facts.close()

    def today(self) -> Any:
        """Return today in the brand's calendar."""
        return datetime.now(self.settings.tz).date()


@dataclass(frozen=True)
class Job(Generic[T]):
    """A checked analysis: what to compute on the facts, and how to shape the result for the faces.

    The API and the CLI run it at once (:func:`report`); the console runs ``compute`` on a mirror it
    keeps fresh in the background and shapes the result it remembers.
    """

    compute: Callable[[Facts], Any]
    shape: Callable[[Any], T]


def report(where: Where, job: Job[T]) -> T:
    """Return the job's result shaped for the faces."""
    return job.shape(where.run(job.compute))


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _per(fen: int, n: int) -> Decimal | None:
    return (from_fen(fen) / n).quantize(CENT) if n else None


def _step_rows(steps: list[funnel.StepResult]) -> list[FunnelStepOut]:
    first = steps[0].customers if steps else 0
    return [FunnelStepOut(step=s.step, label=s.label, customers=s.customers,
                          conversion_from_previous=_rate(s.customers, steps[i - 1].customers) if i else None,
                          conversion_from_first=_rate(s.customers, first),
                          median_seconds_from_previous=s.median_s_from_previous,
                          median_seconds_from_entry=s.median_s_from_entry) for i, s in enumerate(steps)]


def _labels(where: Where, kind: str | None, values: list[str]) -> dict[str, str]:
    """Return display names of breakdown values (channel code or staff names; platforms as they are)."""
    ids = [int(v) for v in values if v]
    if kind not in ("channel_code", "staff", "segment") or not ids:
        return {}
    with unit_of_work(where.store, write=False) as s:
        if kind == "channel_code":
            return {str(k): v for k, v in code_names(s, ids).items()}
        if kind == "segment":
            return {str(i): segments.get_segment(s, i).name for i in ids}
        return {str(k): v.name for k, v in staff_by_ids(s, ids).items()}


def _members(where: Where, segment_ids: tuple[int, ...], principal: Principal) -> dict[int, list[int]]:
    """Return the current members of each segment (a segment breakdown), as the caller may see them."""
    with unit_of_work(where.store, write=False) as s:
        return {sid: segments.member_ids(s, segments.get_segment(s, sid).id, principal) for sid in segment_ids}


def funnel_job(where: Where, params: FunnelParams, principal: Principal = CLI) -> Job[FunnelOut]:
    """Check a funnel and return its job (segment members are read now, as the caller may see them)."""
    params.check(where.today())
    members = _members(where, params.segment_ids, principal) if params.breakdown == "segment" else None
    return Job(lambda f: funnel.compute(f, params, where.settings.tz, members), lambda r: _funnel_out(where, params, r))


def funnel_report(where: Where, params: FunnelParams, principal: Principal = CLI) -> FunnelOut:
    """Return the funnel's steps (and breakdown) with conversion rates and median times."""
    return report(where, funnel_job(where, params, principal))


def _funnel_out(where: Where, params: FunnelParams, result: funnel.FunnelResult) -> FunnelOut:
    out = FunnelOut(params=FunnelParamsOut(steps=[s.to_json() for s in params.steps], start=params.start,
                                           end=params.end, window_seconds=params.window_s, mode=params.mode,
                                           breakdown=params.breakdown, engine=result.engine),
                    steps=_step_rows(result.steps))
    if params.breakdown:
        names = _labels(where, params.breakdown, [v for v, _ in result.breakdown])
        out.breakdown = [FunnelGroupOut(value=v or None, label=names.get(v, v or "-"), steps=_step_rows(steps))
                         for v, steps in result.breakdown]
    return out


def funnel_dropped(where: Where, params: FunnelParams, step: int, limit: int = 100, offset: int = 0) -> FunnelDroppedOut:
    """Return one page of the customers who dropped at ``step``."""
    params.check(where.today())
    total, rows = where.run(lambda f: funnel.dropped(f, params, where.settings.tz, step, limit=limit, offset=offset))
    when = lambda s: datetime.fromtimestamp(int(s), UTC)  # noqa: E731
    return FunnelDroppedOut(step=step, total=total, next_offset=offset + limit if offset + limit < total else None,
                            customers=[DroppedCustomerOut(customer_id=r["customer_id"], entered_at=when(r["entry"]),
                                                          last_step_at=when(r["last"])) for r in rows])


def funnel_segment(where: Where, params: FunnelParams, step: int, name: str, actor: str) -> FunnelSegmentOut:
    """Make the customers who dropped at ``step`` a segment: tag them, then a segment of that tag's holders.

    The segment keeps exactly these customers (a manual tag changes only by hand), and being a
    segment it can start journeys, mass messages and other segments' rules like any other.
    """
    params.check(where.today())
    ids = where.run(lambda f: funnel.dropped_ids(f, params, where.settings.tz, step))
    tag_name = f"漏斗流失·{name.strip()}"[:64]
    description = (f"dropped at step {step} ({params.steps[step - 1].label()}) of a {params.mode} funnel entered "
                   f"{params.start}..{params.end}, window {params.window_s} s")
    with unit_of_work(where.store) as s:
        tags.create_tag(s, tag_name, group_name=FUNNEL_TAG_GROUP, actor=actor)
        tags.apply_to_customers(s, tag_name, ids, actor=actor, source="funnel")
        made = segments.create_segment(s, name=name, rule={"tag": tag_name}, description=description, actor=actor,
                                       tz=where.settings.tz)
        return FunnelSegmentOut(segment_id=made.id, name=made.name, tag=tag_name, customers=len(ids))


def gmv_job(where: Where, current: gmv.Period, base: gmv.Period | None = None,
            entry_events: tuple[str, ...] = gmv.ENTRY_EVENTS) -> Job[GmvOut]:
    """Check the periods and return the decomposition's job (base: the period just before by default)."""
    base = base or current.before()
    current.check(where.today(), "current period")
    base.check(where.today(), "base period")
    if not entry_events:
        raise gmv.InvalidGmv("name at least one entry event type", field="entry_events")
    return Job(lambda f: gmv.decompose(f, current, base, where.settings.tz, entry_events),
               lambda r: GmvOut.model_validate(gmv.as_dict(r)))


def gmv_report(where: Where, current: gmv.Period, base: gmv.Period | None = None,
               entry_events: tuple[str, ...] = gmv.ENTRY_EVENTS) -> GmvOut:
    """Return both periods' factors and the change of GMV attributed to each factor."""
    return report(where, gmv_job(where, current, base, entry_events))


def repurchase_job(where: Where, params: repurchase.RepurchaseParams) -> Job[RepurchaseOut]:
    """Check the parameters and return the repurchase job."""
    params.check(where.today())

    def shape(r: repurchase.RepurchaseResult) -> RepurchaseOut:
        return RepurchaseOut(start=params.start, end=params.end, unit=params.unit, within_days=params.within_days,
                             engine=r.engine, cohorts=[{**c, "rate": _rate(c["repurchased"], c["customers"])}
                                                       for c in r.cohorts],
                             distribution=r.distribution, median_gap_days=r.median_gap_days,
                             period_buyers=r.period_buyers, period_repeat_buyers=r.period_repeat_buyers,
                             period_rate=_rate(r.period_repeat_buyers, r.period_buyers))
    return Job(lambda f: repurchase.compute(f, params, where.settings.tz), shape)


def repurchase_report(where: Where, params: repurchase.RepurchaseParams) -> RepurchaseOut:
    """Return repurchase per cohort, the distribution of gaps and the period's rate."""
    return report(where, repurchase_job(where, params))


def _value_row(key: str | None, label: str, r: dict[str, Any]) -> ValueRowOut:
    return ValueRowOut(key=key, label=label, customers=r["customers"], buyers=r["buyers"], orders=r["orders"],
                       revenue=from_fen(r["revenue"]), value_per_customer=_per(r["revenue"], r["customers"]),
                       value_per_buyer=_per(r["revenue"], r["buyers"]))


def value_job(where: Where, params: cohort_value.ValueParams) -> Job[ValueOut]:
    """Check the parameters and return the per-customer value job."""
    params.check(where.today())

    def shape(r: cohort_value.ValueResult) -> ValueOut:
        names = _labels(where, "channel_code", [str(c["code"]) for c in r.channels if c["code"] is not None])
        return ValueOut(start=params.start, end=params.end, as_of=params.until, cohort_by=params.cohort_by,
                        unit=params.unit, engine=r.engine,
                        cohorts=[_value_row(c["cohort"].isoformat(), c["cohort"].isoformat(), c) for c in r.cohorts],
                        channels=[_value_row(None if c["code"] is None else str(c["code"]),
                                             "-" if c["code"] is None else names.get(str(c["code"]), str(c["code"])), c)
                                  for c in r.channels])
    return Job(lambda f: cohort_value.compute(f, params, where.settings.tz), shape)


def value_report(where: Where, params: cohort_value.ValueParams) -> ValueOut:
    """Return value per customer by cohort and by acquiring channel code."""
    return report(where, value_job(where, params))


def attribution_job(where: Where, params: attribution.AttributionParams) -> Job[AttributionOut]:
    """Check the parameters and return the attribution job (costs are read when the result is shaped)."""
    params.check(where.today())
    now_s = int(datetime.now(UTC).timestamp())
    return Job(lambda f: (f.engine, attribution.compute(f, params, where.settings.tz, now_s)),
               lambda r: _attribution_out(where, params, *r))


def attribution_report(where: Where, params: attribution.AttributionParams) -> AttributionOut:
    """Return acquired customers per channel code, their revenue within N days, and ROI where costs exist."""
    return report(where, attribution_job(where, params))


def _attribution_out(where: Where, params: attribution.AttributionParams, engine: str,
                     rows: list[dict[str, Any]]) -> AttributionOut:
    with unit_of_work(where.store, write=False) as s:
        costs = costs_between(s, params.start, params.end)
        names = code_names(s, {r["code"] for r in rows} | set(costs))
    by_code = {r["code"]: r for r in rows}
    out = []
    for code in sorted(by_code.keys() | costs.keys(), key=lambda c: (-by_code.get(c, {}).get("revenue", 0), c)):
        r = by_code.get(code, {"acquired": 0, "complete": 0, "buyers": 0, "orders": 0, "revenue": 0})
        cost = costs.get(code)
        out.append(AttributionRowOut(channel_code_id=code, channel_code=names.get(code, str(code)), acquired=r["acquired"],
                                     complete=r["complete"], buyers=r["buyers"], orders=r["orders"],
                                     revenue=from_fen(r["revenue"]), cost=None if cost is None else from_fen(cost),
                                     cost_per_customer=_per(cost, r["acquired"]) if cost is not None else None,
                                     roi=round((r["revenue"] - cost) / cost, 4) if cost else None))
    return AttributionOut(start=params.start, end=params.end, days=params.days, engine=engine, channels=out)


def staff_job(where: Where, params: staff_performance.StaffParams) -> Job[StaffPerformanceOut]:
    """Check the parameters and return the staff performance job (reply figures read when shaped)."""
    params.check(where.today())
    return Job(lambda f: (f.engine, staff_performance.compute(f, params, where.settings.tz)),
               lambda r: _staff_out(where, params, *r))


def staff_report(where: Where, params: staff_performance.StaffParams) -> StaffPerformanceOut:
    """Return each staff member's customers, sales, new-contact conversion and reply figures."""
    return report(where, staff_job(where, params))


def _staff_out(where: Where, params: staff_performance.StaffParams, engine: str,
               per: dict[int, dict[str, int]]) -> StaffPerformanceOut:
    with unit_of_work(where.store, write=False) as s:
        reply = response_between(s, per.keys(), params.start, params.end)
        people = staff_by_ids(s, per.keys())
    rows = []
    for r in staff_performance.as_rows(per):
        got = reply.get(r["staff_id"])
        member = people.get(r["staff_id"])
        rows.append(StaffRowOut(**{**r, "revenue": from_fen(r["revenue"])}, name=member.name if member else str(r["staff_id"]),
                                conversion=_rate(r["converted"], r["added"]), chats=got.chats if got else None,
                                reply_rate=got.reply_rate if got else None,
                                avg_reply_minutes=got.avg_reply_minutes if got else None))
    return StaffPerformanceOut(start=params.start, end=params.end, within_days=params.within_days, engine=engine,
                               staff=rows)
