"""The lifecycle page: buyers per tier (新客, 流失, 忠实, 优质, 低频, 普通) and new vs returning buyers per period.

Tiers come from :func:`siyu.analytics.lifecycle.compute` with the default rules (the function behind
``GET /api/v1/analytics/lifecycle``), and the page prints those rules. New vs returning **per
period** is read from the retention service (:func:`siyu.analytics.retention.expressions`, only the
cohort sizes): a period's buyers are the sizes of recurring order cohorts (customers with a paid
order in the period), its new buyers those of first-order cohorts (first paid order ever in the
period), and returning buyers the difference. That is lifecycle's own new vs returning with the
window set to the period (a buyer of the window who had, or had not, paid before it); the tests
check it period by period against ``lifecycle.compute``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import lifecycle, retention
from siyu.analytics.engines import Facts
from siyu.analytics.rfm import RfmParams
from siyu.kit.money import from_fen
from siyu.web.console.i18n import Translator
from siyu.web.console.routes.analytics_forms import Controls, dated
from siyu.web.console.routes.analytics_view import PALETTE, Analysis, add_pages, bars, respond, share

router = APIRouter()
DEFAULT_WINDOW = 365
UNITS = ("week", "month")
DEFAULT_PERIODS = 6
OPERATORS = {">=": "≥", "<=": "≤", "==": "="}


def new_vs_returning(facts: Facts, last: date, unit: retention.Unit, periods: int,
                     tz: ZoneInfo) -> list[tuple[date, int, int]]:
    """Return (period's first day, new buyers, returning buyers) for the ``periods`` periods ending with ``last``."""
    end_p = retention.period_number(last, unit)
    first = retention.period_start(end_p - periods + 1, unit)
    once = retention.RetentionParams(first, last, unit, 1, "first_order", (), "first")
    counts = []
    for params in (once, replace(once, mode="recurring")):
        sizes, _cells = retention.expressions(facts, params, tz)  # the sizes alone: no cells computed
        counts.append({int(r["cohort"]): int(r["size"]) for r in sizes.to_pyarrow().to_pylist()})
    new, buyers = counts
    return [(retention.period_start(p, unit), new.get(p, 0), buyers.get(p, 0) - new.get(p, 0))
            for p in range(end_p - periods + 1, end_p + 1)]


def _tier_name(t: Translator, rule: lifecycle.Rule) -> str:
    return rule.name_zh if t.locale == "zh-CN" else rule.name_en


def rules(t: Translator, table: tuple[lifecycle.Rule, ...] = lifecycle.DEFAULT_RULES) -> list[tuple[str, str]]:
    """Return each tier's name and conditions as text (spend in yuan), in the order they are tried."""
    out = []
    for rule in table:
        conditions = [f"{t('analytics.lifecycle.measure.' + m)} {OPERATORS[op]} "
                      f"{'¥' + str(from_fen(v)) if m == 'spend_fen' else v}" for m, op, v in rule.conditions]
        out.append((_tier_name(t, rule), f" {t('analytics.and')} ".join(conditions) or t("analytics.lifecycle.otherwise")))
    return out


def read_controls(request: Request) -> tuple[Controls, RfmParams | None, str, int]:
    """Return the page's controls, the tiers' parameters, and the unit and number of periods to split."""
    c = Controls.of(request)
    params, _none = dated(c, DEFAULT_WINDOW, None)
    unit = c.choice("unit", UNITS, "month")
    periods = c.number("periods", DEFAULT_PERIODS)
    if params is not None:
        probe = retention.RetentionParams(params.as_of, params.as_of, unit, periods)  # type: ignore[arg-type]
        c.check(lambda: probe.check(c.today), {"to": "as_of"})
    return c, params, unit, periods


def _present(t: Translator, unit: str) -> Any:
    def present(value: tuple[lifecycle.LifecycleResult, list[tuple[date, int, int]]]) -> dict[str, Any]:
        result, split = value
        total = sum(result.tiers.values())
        names = [_tier_name(t, r) for r in result.rules]
        return {
            "life": result, "total": total,
            "tiers": [{"code": r.tier, "name": _tier_name(t, r), "customers": result.tiers[r.tier],
                       "share": share(result.tiers[r.tier], total)} for r in result.rules],
            "tier_chart": bars(names, [(t("analytics.customers"), [result.tiers[r.tier] for r in result.rules],
                                        PALETTE[0])]),
            "periods": [{"first": first, "new": new, "returning": back, "share": share(back, new + back)}
                        for first, new, back in split],
            "split_chart": bars([first.isoformat() for first, _n, _b in split],
                                [(t("analytics.lifecycle.new"), [n for _f, n, _b in split], PALETTE[1]),
                                 (t("analytics.lifecycle.returning"), [b for _f, _n, b in split], PALETTE[0])],
                                stack=True),
            "unit_name": t(f"analytics.unit.{unit}")}
    return present


def _page(request: Request, session: Session, compute: bool) -> Response:
    controls, params, unit, periods = read_controls(request)
    analysis = None
    if params is not None:
        tz = request.app.state.settings.tz

        def run(facts: Facts) -> tuple[lifecycle.LifecycleResult, list[tuple[date, int, int]]]:
            return (lifecycle.compute(facts, params, tz),
                    new_vs_returning(facts, params.as_of, unit, periods, tz))  # type: ignore[arg-type]

        analysis = Analysis(("lifecycle", params, unit, periods), run, _present(controls.t, unit))
    return respond(request, session, controls, "analytics/lifecycle.html", "analytics/_lifecycle.html", analysis,
                   compute=compute, title_key="analytics.lifecycle.title", rules=rules(controls.t))


add_pages(router, "/analytics/lifecycle", _page)
