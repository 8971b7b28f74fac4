"""The RFM page: the eight segments as an R×F×M grid, the score distributions, and the moves between two dates.

Numbers come from :mod:`siyu.analytics.rfm` (``compute`` and ``migration``), the functions behind
``GET /api/v1/analytics/rfm`` and ``siyu analyze rfm``; the page picks the controls (as-of day,
look-back window, quintiles or business thresholds, an earlier day to compare with) and lays out
the answer: each segment with its customers, share and average net spend, the distribution of the R,
F and M scores (the grid's marginals), and the flows between segments as a Sankey chart.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import rfm
from siyu.analytics.engines import Facts
from siyu.errors import ValidationFailed
from siyu.kit.money import from_fen, to_fen
from siyu.web.console.i18n import Translator
from siyu.web.console.routes.analytics_forms import Controls, dated
from siyu.web.console.routes.analytics_view import Analysis, add_pages, bars, heat, respond, sankey, share

router = APIRouter()
DEFAULT_WINDOW = 365
COMPARE_DAYS = 90  # the earlier date offered by default: a quarter before
# the business thresholds offered when switching from quintiles (days; orders; yuan)
CUTS = {"thr_r": "7, 30, 90, 180", "thr_f": "2, 3, 5, 8", "thr_m": "100, 300, 800, 2000"}
CUT_FIELDS = {"thresholds.recency_days": "thr_r", "thresholds.frequency": "thr_f", "thresholds.monetary_fen": "thr_m"}
# the grid: M high (重要) above M low (一般); across, R and F high or low
COLUMNS = ((True, True), (True, False), (False, True), (False, False))
SCORE_COLOURS = ("#0a7d55", "#3b82f6", "#d97706")


def segment_name(t: Translator, code: str) -> str:
    """Return a segment's name in the page's language (the engine's names; ``none``: not a buyer then)."""
    if code == rfm.NONE:
        return t("analytics.rfm.none")
    zh, en = next((zh, en) for c, zh, en in rfm.SEGMENTS.values() if c == code)
    return zh if t.locale == "zh-CN" else en


def _cuts(controls: Controls, name: str, money: bool) -> tuple[int, ...]:
    parts = [p for p in re.split(r"[,，\s]+", controls.raw(name, CUTS[name])) if p]
    try:
        return tuple(to_fen(p) if money else int(p) for p in parts)
    except ValueError:
        controls.errors[name] = controls.t("analytics.error.cuts")
        return ()


def _thresholds(controls: Controls) -> rfm.Thresholds | None:
    if controls.values.get("scoring") != "thresholds":
        for name, default in CUTS.items():
            controls.raw(name, default)  # kept in the form for switching to thresholds
        return None
    cuts = [_cuts(controls, name, name == "thr_m") for name in CUTS]
    if any(name in controls.errors for name in CUTS):
        return None
    try:
        return rfm.Thresholds(recency_days=cuts[0], frequency=cuts[1], monetary_fen=cuts[2])  # type: ignore[arg-type]
    except ValidationFailed as exc:
        controls.refused(exc, CUT_FIELDS)
        return None


def read_controls(request: Request) -> tuple[Controls, rfm.RfmParams | None, rfm.RfmParams | None]:
    """Return the page's controls and the parameters at the as-of day and the earlier day (if any)."""
    c = Controls.of(request)
    c.choice("scoring", ("quintiles", "thresholds"), "quintiles")
    return c, *dated(c, DEFAULT_WINDOW, COMPARE_DAYS, _thresholds(c))


def _grid(t: Translator, result: rfm.RfmResult) -> list[list[dict[str, Any]]]:
    rows = []
    for m_high in (True, False):
        row = []
        for r_high, f_high in COLUMNS:
            code = rfm.SEGMENTS[(r_high, f_high, m_high)][0]
            n, spend = result.segments.get(code, 0), result.spend_fen.get(code, 0)
            row.append({"code": code, "name": segment_name(t, code), "highs": (r_high, f_high, m_high),
                        "customers": n, "share": share(n, result.customers), "heat": heat(n, result.customers),
                        "avg_spend": (from_fen(spend) / n).quantize(Decimal("0.01")) if n else None})
        rows.append(row)
    return rows


def _distribution(t: Translator, result: rfm.RfmResult) -> dict[str, Any]:
    """Return the customers per score 1–5 of each dimension (the grid's marginals) as a bar chart."""
    series = []
    for i, (dim, colour) in enumerate(zip("rfm", SCORE_COLOURS, strict=True)):
        counts = [sum(n for key, n in result.grid.items() if key[i] == score) for score in range(1, 6)]
        series.append((t(f"analytics.rfm.score_{dim}"), counts, colour))
    return bars([str(score) for score in range(1, 6)], series)


def _present(t: Translator, earlier: rfm.RfmParams | None) -> Any:
    def present(value: tuple[rfm.RfmResult, dict[tuple[str, str], int] | None]) -> dict[str, Any]:
        result, flows = value
        out: dict[str, Any] = {"rfm": result, "grid": _grid(t, result), "distribution": _distribution(t, result),
                               "flows": None}
        if earlier is not None and flows is not None:
            order = [*rfm.SEGMENT_ORDER, rfm.NONE]
            out["flows"] = [{"from": segment_name(t, a), "to": segment_name(t, b), "customers": n, "stay": a == b,
                             "from_code": a, "to_code": b}
                            for (a, b), n in sorted(flows.items(), key=lambda kv: (-kv[1], kv[0]))]
            out["sankey"] = sankey(flows, lambda code: segment_name(t, code), order, earlier.as_of.isoformat(),
                                   result.params.as_of.isoformat())
        return out
    return present


def _page(request: Request, session: Session, compute: bool) -> Response:
    controls, params, earlier = read_controls(request)
    analysis = None
    if params is not None:
        tz = request.app.state.settings.tz

        def run(facts: Facts) -> tuple[rfm.RfmResult, dict[tuple[str, str], int] | None]:
            result = rfm.compute(facts, params, tz)
            return result, rfm.migration(facts, earlier, params, tz) if earlier else None

        analysis = Analysis(("rfm", params, earlier), run, _present(controls.t, earlier))
    return respond(request, session, controls, "analytics/rfm.html", "analytics/_rfm.html", analysis,
                   compute=compute, title_key="analytics.rfm.title", earlier=earlier, cuts=CUTS)


add_pages(router, "/analytics/rfm", _page)
