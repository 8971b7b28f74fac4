"""Scores write-back: every live customer's RFM, AIPL stage, lifecycle tier, CLV, churn warning and intent.

One run, as of a day (DESIGN.md: "bulk write-back of memberships and scores"):

1. **On the engine** (DuckDB mirror, PostgreSQL in place, or Spark), one expression joins the live
   customers with what each analysis says about them, using the analyses' own definitions: RFM
   scores and segment (:mod:`rfm`, 365-day window), lifecycle tier (:mod:`lifecycle`, default rules),
   AIPL stage (:mod:`aipl`, 90-day window), the CLV summary in days as of the as-of day and as of
   ``compare_days`` earlier (:mod:`customer_value`), and the intent signals (:mod:`attention`).
2. **In numpy**, the BG/NBD and Gamma-Gamma are fitted on the buyers' summaries (collapsed rows), and
   each buyer gets expected purchases and CLV over the horizon, P(alive) now and at the comparison
   day under the same fit, expected spend, the churn flags and value at stake, and the intent value.
3. **In the operational store**, ``customer_scores`` is replaced in one transaction through the scores
   domain (readers see the old scores or the new ones), and ``score_runs`` records the run.

A fit the data cannot support (e.g. nobody bought twice yet) leaves the CLV columns empty and the
run records why; the other scores are still written. Money is rounded half up to the fen once, here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.analytics import aipl, attention, customer_value, lifecycle, rfm
from siyu.analytics.attention import AttentionParams, attach
from siyu.analytics.clv import ClvFitFailed, probability_alive, round_fen, value_arrays
from siyu.analytics.clv.value import DEFAULT_ANNUAL_DISCOUNT_RATE, DEFAULT_MONTHS
from siyu.analytics.engines import Facts, open_facts
from siyu.db.engine import pause_for_writers, unit_of_work
from siyu.domains.scores import service
from siyu.kit.time import day_bounds_utc, utcnow

BATCH = 50_000
SQLITE_BATCH = 10_000  # rows per writer transaction on SQLite: ~1 s of its write lock at most on a busy machine


@dataclass(frozen=True)
class ScoreConfig:
    """The analyses' parameters used for the stored scores (their defaults, documented in docs/clv.md)."""

    rfm_window_days: int = 365
    lifecycle_window_days: int = 365
    aipl_window_days: int = 90
    months: int = DEFAULT_MONTHS
    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE
    attention: AttentionParams = field(default_factory=AttentionParams)


def expression(facts: Facts, as_of: date, tz: ZoneInfo, config: ScoreConfig) -> ibis.Table:
    """Return one row per live customer with every analysis's inputs and answers (NULL where none applies)."""
    scored = rfm.expression(facts, rfm.RfmParams(as_of, config.rfm_window_days), tz)
    segment = ibis.cases(*[((scored.r_high == rh) & (scored.f_high == fh) & (scored.m_high == mh), code)
                           for (rh, fh, mh), (code, _zh, _en) in rfm.SEGMENTS.items()])
    sides = [
        scored.select("customer_id", rfm_r=scored.r, rfm_f=scored.f, rfm_m=scored.m, rfm_segment=segment),
        lifecycle.expression(facts, rfm.RfmParams(as_of, config.lifecycle_window_days), tz, lifecycle.DEFAULT_RULES)
        .select("customer_id", lifecycle_tier="tier"),
        aipl.expression(facts, rfm.RfmParams(as_of, config.aipl_window_days), tz).select("customer_id", aipl_stage="stage"),
        customer_value.summaries(facts, as_of, tz, "day"),
        customer_value.summaries(facts, as_of - timedelta(days=config.attention.compare_days), tz, "day")
        .select("customer_id", x_prev="frequency", recency_prev="recency", age_prev="age"),
        attention.intent_signals(facts, as_of, tz, config.attention),
    ]
    t = facts.table("customers").select(customer_id="id")
    for side in sides:
        t = attach(t, side)
    return t


@dataclass
class Computed:
    """A run's results as columns in customer id order, ready to be written."""

    columns: dict[str, list[Any]]
    counts: dict[str, int]
    models: dict[str, Any]
    timings: dict[str, float]

    def batches(self, size: int = BATCH) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """Yield (column names, rows as tuples) in batches of ``size``."""
        names = list(self.columns)
        rows = len(self.columns["customer_id"])
        for start in range(0, rows, size):
            yield names, list(zip(*(self.columns[n][start:start + size] for n in names), strict=True))


def _floats(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def _money(fen: np.ndarray, keep: np.ndarray) -> list[str | None]:
    """Return yuan as decimal text ("12.30"), None where ``keep`` is false (exact for SQLite and COPY alike)."""
    out: list[str | None] = [None] * fen.size
    for i in np.flatnonzero(keep).tolist():
        value = int(fen[i])
        out[i] = f"{value // 100}.{value % 100:02d}"
    return out


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]  # NaN != NaN: no value


def _clv(table: pa.Table, config: ScoreConfig, models: dict[str, Any]) -> dict[str, np.ndarray]:
    """Fit both models on the buyers and predict; arrays over all rows (NaN where not a buyer or no fit)."""
    n = table.num_rows
    x, t_x, t, m = (_floats(table, c) for c in ("frequency", "recency", "age", "monetary"))
    buyer = ~np.isnan(x)
    out = {k: np.full(n, np.nan) for k in ("purchases", "alive", "alive_prev", "spend", "clv")}
    if not buyer.any():
        models["clv_error"] = "no customer has bought yet"
        return out
    try:
        bgnbd, gamma, distinct = customer_value.fit_arrays(x[buyer], t_x[buyer], t[buyer], m[buyer])
    except ClvFitFailed as exc:
        models["clv_error"] = exc.message
        return out
    models.update(bgnbd=bgnbd.to_dict(), gamma_gamma=gamma.to_dict(), distinct_rows=distinct, time_unit="day",
                  months=config.months, annual_discount_rate=config.annual_discount_rate)
    v = value_arrays(bgnbd, gamma, x[buyer], t_x[buyer], t[buyer], m[buyer], time_unit="day", months=config.months,
                     annual_discount_rate=config.annual_discount_rate)
    for key, values in (("purchases", v.expected_purchases), ("alive", v.probability_alive),
                        ("spend", v.expected_spend), ("clv", v.clv)):
        out[key][buyer] = values
    x0, t_x0, t0 = (_floats(table, c) for c in ("x_prev", "recency_prev", "age_prev"))
    before = ~np.isnan(x0)
    if before.any():
        out["alive_prev"][before] = probability_alive(bgnbd, x0[before], t_x0[before], t0[before])
    models["population_spend_fen"] = gamma.population_mean
    return out


def compute(facts: Facts, as_of: date, tz: ZoneInfo, config: ScoreConfig, now: datetime) -> Computed:
    """Run every analysis as of ``as_of`` on ``facts`` and assemble the rows of ``customer_scores``."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    table = expression(facts, as_of, tz, config).order_by("customer_id").to_pyarrow()
    timings["engine"] = time.perf_counter() - started
    models: dict[str, Any] = {}
    clv = _clv(table, config, models)
    timings["models"] = time.perf_counter() - started - timings["engine"]
    columns, counts = _columns(table, clv, as_of, tz, config, now, models.get("population_spend_fen"))
    timings["assemble"] = time.perf_counter() - started - timings["engine"] - timings["models"]
    return Computed(columns, counts, models, timings)


def _columns(table: pa.Table, clv: dict[str, np.ndarray], as_of: date, tz: ZoneInfo, config: ScoreConfig,
             now: datetime, population_spend: float | None) -> tuple[dict[str, list[Any]], dict[str, int]]:
    n = table.num_rows
    x, t_x, t = (_floats(table, c) for c in ("frequency", "recency", "age"))
    buyer, has_fit = ~np.isnan(x), ~np.isnan(clv["clv"])
    falling, overdue = attention.churn_flags(clv["alive"], clv["alive_prev"], np.nan_to_num(x), t_x, t - t_x,
                                             config.attention)
    warned = (falling | overdue) & has_fit
    stake = round_fen(attention.value_at_stake(clv["alive"], clv["alive_prev"], np.where(has_fit, clv["clv"], 0.0)))
    days, open_order = (np.nan_to_num(_floats(table, "intent_days")),
                        np.asarray(table.column("open_order").fill_null(False).to_numpy(zero_copy_only=False), bool))
    paid = np.asarray(table.column("paid").fill_null(False).to_numpy(zero_copy_only=False), bool)
    intent = ((days > 0) | open_order) & ~paid
    spend = np.where(has_fit, clv["spend"], population_spend if population_spend is not None else 100.0)
    intent_fen = round_fen(np.where(intent, attention.intent_value(days, open_order, spend), 0.0))
    last_s = table.column("last_signal_s").to_pylist()
    instant = day_bounds_utc(as_of, tz)[1]
    columns: dict[str, list[Any]] = {
        "customer_id": table.column("customer_id").to_pylist(), "as_of": [instant] * n, "computed_at": [now] * n,
        **{c: table.column(c).to_pylist() for c in ("rfm_r", "rfm_f", "rfm_m", "rfm_segment", "aipl_stage",
                                                    "lifecycle_tier")},
        "clv": _money(round_fen(np.nan_to_num(clv["clv"])), has_fit),
        "expected_purchases": _nullable(clv["purchases"]), "p_alive": _nullable(clv["alive"]),
        "expected_spend": _money(round_fen(np.nan_to_num(clv["spend"])), has_fit),
        "repeat_purchases": [None if v is None else int(v) for v in table.column("frequency").to_pylist()],
        "days_since_last": [None if v != v else int(v) for v in (t - t_x).tolist()],
        "usual_gap_days": _nullable(np.where(buyer & (np.nan_to_num(x) > 0), t_x / np.where(x > 0, x, 1), np.nan)),
        "p_alive_prev": _nullable(clv["alive_prev"]),
        "alive_falling": (falling & has_fit).tolist(), "overdue": (overdue & buyer).tolist(),
        "value_at_stake": _money(stake, warned),
        "intent_days": days.astype(int).tolist(), "open_order": open_order.tolist(),
        "last_signal_at": [datetime.fromtimestamp(s, UTC) if s else None for s in last_s],
        "intent_value": _money(intent_fen, intent),
    }
    counts = {"customers": n, "buyers": int(buyer.sum()), "rfm_scored": int(sum(v is not None for v in columns["rfm_r"])),
              "alive_falling": int((falling & has_fit).sum()), "overdue": int((overdue & buyer).sum()),
              "at_risk": int(warned.sum()), "high_intent": int(intent.sum())}
    return columns, counts


@dataclass(frozen=True)
class ScoresResult:
    """What a write-back did."""

    run_id: int
    as_of: date
    engine: str
    written: int
    seconds: float
    counts: dict[str, int]
    models: dict[str, Any]
    timings: dict[str, float]


def _write(store: Engine, computed: Computed) -> int:
    """Replace the stored scores: in one transaction on PostgreSQL, a batch per transaction on SQLite.

    Batches are in customer id order: each replaces the rows in its id range, the last one everything
    after, so a customer who is no longer scored (merged away) loses the old row. On PostgreSQL one
    transaction costs nobody anything (readers keep their snapshot, other writers do not touch the
    table), so readers see the old scores or the new ones, never a mix. On SQLite one transaction for
    a million customers held the database's one write lock for tens of seconds, and every request that
    writes (a login, an ingestion batch) waited behind it; there each batch of ``SQLITE_BATCH`` commits
    on its own with a pause after it (back-to-back batches starved a waiting login past its 30 s busy
    timeout), and a reader meanwhile may see some customers' new scores and others' previous ones
    (each row says what day it is as of).
    """
    if store.dialect.name != "sqlite":
        with unit_of_work(store) as shared:
            return _replace(computed, lambda: nullcontext(shared), BATCH)

    @contextmanager
    def own_transaction() -> Iterator[Session]:
        with unit_of_work(store) as s:
            yield s
        pause_for_writers(store)  # a login waiting on the lock gets it before the next batch

    return _replace(computed, own_transaction, SQLITE_BATCH)


def _replace(computed: Computed, transaction: Callable[[], AbstractContextManager[Session]], size: int) -> int:
    """Write the batches, each in ``transaction()``, then drop the rows after the last one's ids."""
    written, after = 0, None
    for names, rows in computed.batches(size):
        through = rows[-1][names.index("customer_id")]
        with transaction() as s:
            written += service.replace_scores(s, names, rows, after=after, through=through)
        after = through
    with transaction() as s:
        service.replace_scores(s, [], [], after=after, through=None)
    return written


def write_back(store: Engine, data_dir: Any, as_of: date, tz: ZoneInfo, *, trigger: str, engine: str = "auto",
               master: str = "local[2]", config: ScoreConfig | None = None) -> ScoresResult:
    """Compute every live customer's scores as of ``as_of`` and replace ``customer_scores``; record the run."""
    config = config or ScoreConfig()
    rfm.RfmParams(as_of).check(datetime.now(tz).date())
    started, now = time.perf_counter(), utcnow()
    with unit_of_work(store) as s:
        run_id = service.start_run(s, as_of, trigger, now)
    try:
        facts = open_facts(store, data_dir, engine, master=master)
        try:
            computed = compute(facts, as_of, tz, config, now)
        finally:
            facts.close()
        writing = time.perf_counter()
        written = _write(store, computed)
        computed.timings["write"] = time.perf_counter() - writing
    except Exception as exc:
        with unit_of_work(store) as s:
            service.finish_run(s, run_id, status="failed", now=utcnow(), seconds=time.perf_counter() - started,
                               error=f"{type(exc).__name__}: {exc}")
        raise
    seconds = time.perf_counter() - started
    timings = {k: round(v, 3) for k, v in computed.timings.items()}
    with unit_of_work(store) as s:
        service.finish_run(s, run_id, status="ok", now=utcnow(), seconds=seconds, engine=facts.engine,
                           customers=written, detail={"counts": computed.counts, "models": computed.models,
                                                      "timings": timings})
    return ScoresResult(run_id, as_of, facts.engine, written, seconds, computed.counts, computed.models, timings)
