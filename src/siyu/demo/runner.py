"""Build the demo brand: plan, structure, people in blocks, their facts through ingestion, departures, admin.

People are simulated a block at a time (memory stays flat at a million customers); a block's facts
are put in time order and cut into batches. Mode ``ingest`` sends each batch through the real
services in one transaction (``ingest_events`` then ``ingest_orders``; the block's CRM records
last through ``ingest_customers``), exactly as the API would receive them. Mode ``bulk``
(:mod:`siyu.demo.scale`) takes the same batches in the same order through the bulk loader and
leaves the same database state, several times faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from siyu.analytics import refresh as summaries
from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.demo import behavior, brand
from siyu.demo import scale
from siyu.demo.people import DemoEvent, DemoOrder, Person, batches, simulate
from siyu.demo.plan import BrandPlan, make_plan
from siyu.domains.ingest import bulk
from siyu.domains.ingest.customers import ingest_customers
from siyu.domains.ingest.schemas import IngestResult
from siyu.domains.ingest.service import IngestContext, ingest_events, ingest_orders
from siyu.errors import SiyuError
from siyu.kit.money import from_fen
from siyu.kit.time import UTC

HISTORY_DAYS = 730


class DemoError(SiyuError):
    """The demo cannot be built as asked."""

    code = "demo_error"


@dataclass(frozen=True)
class DemoOptions:
    """How big, which seed, which end date, which write path."""

    customers: int = 20_000
    seed: int = 42
    until: date | None = None
    mode: str = "auto"  # auto | ingest | bulk
    block: int = 2_000
    batch: int = 5_000
    parallel: bool | None = None  # bulk mode: a second process for history (None: SQLite files from 10,000)


@dataclass
class DemoReport:
    """What was built."""

    mode: str
    seconds: float
    counts: dict[str, int]
    facts: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # bulk mode: CPU seconds per phase (its process's)
    admin_password: str = ""
    api_key: str = ""


def window(until: date | None, days: int = HISTORY_DAYS) -> tuple[int, int]:
    """Return [start, end) epoch seconds of the simulated history ending at ``until`` (default today, UTC)."""
    end_day = until or datetime.now(UTC).date()
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC)
    return int((end - timedelta(days=days)).timestamp()), int(end.timestamp())


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def event_item(e: DemoEvent) -> dict[str, Any]:
    """Return the events-API item of a simulated event."""
    return {"event_id": e.event_id, "type": e.type, "occurred_at": _iso(e.t), "identities": dict(e.idents),
            "channel": e.channel, "properties": e.props}


def order_item(o: DemoOrder) -> dict[str, Any]:
    """Return the orders-API item of a simulated order fact (yuan as strings)."""
    item: dict[str, Any] = {"order_id": o.order_id, "status": o.status, "occurred_at": _iso(o.t),
                            "amount": str(from_fen(o.amount_fen)), "channel": o.channel, "store": o.store,
                            "identities": dict(o.idents)}
    if o.lines:
        item["items"] = [{"sku": s, "name": n, "category": c, "quantity": q, "unit_price": str(from_fen(p))}
                         for s, n, c, q, p in o.lines]
    if o.status == "refunded":
        item["refund_amount"] = str(from_fen(o.refund_fen))
        if o.refund_id:
            item["refund_id"] = o.refund_id
    return item


def profile_item(p: Person, end: int) -> dict[str, Any]:
    """Return the CRM record of a person as exported at ``end``: identities, profile, owning staff member."""
    ids = {"phone": p.phone, **({"member_no": p.member_no} if p.member_no else {})}
    record = {"identities": ids, "name": p.name, "gender": p.gender, "birthday": p.birthday, "region": p.region,
              "city": p.city, "attributes": {"source": p.source, "member": bool(p.member_no)},
              "occurred_at": _iso(end - 3600)}
    if p.owner:
        record["owner_userid"] = p.owner
    return record


def _tally(report: DemoReport, *results: IngestResult) -> None:
    for result in results:
        for rej in result.rejected:
            report.rejected[rej.code] = report.rejected.get(rej.code, 0) + 1


def _ingest_block(engine: Engine, ctx: IngestContext, people: list[Person], end: int, options: DemoOptions,
                  report: DemoReport) -> None:
    """Send a block through the services: each batch's events, then its orders; then the CRM records."""
    for batch in batches(people, options.batch):
        events = [event_item(f) for f in batch if isinstance(f, DemoEvent)]
        orders = [order_item(f) for f in batch if isinstance(f, DemoOrder)]
        with unit_of_work(engine) as session:
            _tally(report, ingest_events(session, ctx, events) if events else IngestResult(),
                   ingest_orders(session, ctx, orders) if orders else IngestResult())
        report.facts += len(batch)
    records = [profile_item(p, end) for p in people]
    for start in range(0, len(records), options.batch):
        part = people[start:start + options.batch]
        with unit_of_work(engine) as session:
            _tally(report, ingest_customers(session, ctx, records[start:start + options.batch],
                                            [f"crm:{p.index}" for p in part]))


def choose_mode(options: DemoOptions) -> str:
    """Return the write path: the bulk loader unless the services are asked for.

    Both leave the same database (``tests/demo`` compares them table by table); the bulk loader is
    the faster at every size (6× at 20,000 customers), so ``auto`` takes it.
    """
    if options.mode not in ("auto", "ingest", "bulk"):
        raise DemoError("mode must be auto, ingest or bulk", code="invalid_mode")
    return "bulk" if options.mode == "auto" else options.mode


def build(engine: Engine, settings: Settings, options: DemoOptions,
          on_block: Callable[[int], None] | None = None) -> DemoReport:
    """Generate the brand into an empty, migrated database; return counts, timings and the admin secrets."""
    if options.customers < 1:
        raise DemoError("--customers must be at least 1", code="invalid_customers")
    started = time.perf_counter()
    mode = choose_mode(options)
    start, end = window(options.until)
    plan = make_plan(options.seed, start, end, settings.csv_set(settings.test_phone_numbers))
    report = DemoReport(mode=mode, seconds=0.0, counts={})
    prepared: list[summaries.Prepared] = []
    if mode == "bulk":

        def prepare_summaries() -> None:  # read and computed beside the split load's index rebuild
            with unit_of_work(engine, write=False) as session:
                prepared.append(summaries.prepare_rebuild(session, settings.tz, format_rows=True))

        done = scale.build_bulk(engine, settings, plan, options.customers, options.block, options.batch, on_block,
                               options.parallel, beside_indexes=prepare_summaries)
        report.facts, report.rejected, report.phases, report.cpu = (done["facts"], done["rejected"], done["phases"],
                                                                    done["cpu"])
        with unit_of_work(engine) as session:
            report.admin_password, report.api_key = brand.create_admin(session)
    else:
        _build_ingest(engine, settings, options, plan, report, on_block)
    summarised, summarised_cpu = time.perf_counter(), time.process_time()
    with unit_of_work(engine) as session:  # the dashboard's daily summaries, built once from the facts
        summaries.rebuild(session, settings.tz, prepared=prepared[0] if prepared else None)
    report.phases["summaries"] = time.perf_counter() - summarised
    if mode == "bulk":  # CPU of this process (the rebuild runs in it)
        report.cpu["summaries"] = time.process_time() - summarised_cpu
    started_behavior = time.perf_counter()
    with unit_of_work(engine) as session:  # staff members' WeCom statistics, from their workload per day
        behavior.record(session, plan, settings)
    report.phases["staff_behavior"] = time.perf_counter() - started_behavior
    with unit_of_work(engine, write=False) as session:
        report.counts = bulk.demo_counts(session.connection())
    report.seconds = time.perf_counter() - started
    return report


def _build_ingest(engine: Engine, settings: Settings, options: DemoOptions, plan: BrandPlan, report: DemoReport,
                  on_block: Callable[[int], None] | None) -> None:
    with unit_of_work(engine) as session:
        brand.create_structure(session, plan)
    ctx = IngestContext.from_settings(settings.model_copy(update={"max_batch": max(options.batch, 1000)}))
    for block_start in range(0, options.customers, options.block):
        stop = min(options.customers, block_start + options.block)
        people = [simulate(plan, i, plan.start, plan.end) for i in range(block_start, stop)]
        _ingest_block(engine, ctx, people, plan.end, options, report)
        if on_block:
            on_block(stop - block_start)
    report.admin_password, report.api_key = _finish(engine, plan)


def _finish(engine: Engine, plan: BrandPlan) -> tuple[str, str]:
    with unit_of_work(engine) as session:
        brand.depart_staff(session, plan)
        return brand.create_admin(session)
