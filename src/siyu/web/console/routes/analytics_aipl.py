"""The AIPL page: customers per stage (认知 → 兴趣 → 购买 → 忠诚), the flows between two dates, the rules.

Numbers come from :mod:`siyu.analytics.aipl` (``distribution`` and ``flows`` with the default rules),
the functions behind ``GET /api/v1/analytics/aipl`` and ``siyu analyze aipl``; the page shows the
rules it applied, so a reader knows what "interest" means here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics import aipl
from siyu.analytics.engines import Facts
from siyu.analytics.rfm import RfmParams
from siyu.web.console.i18n import Translator
from siyu.web.console.routes.analytics_forms import Controls, dated
from siyu.web.console.routes.analytics_view import PALETTE, Analysis, add_pages, bars, respond, sankey, share

router = APIRouter()
DEFAULT_WINDOW = 90
COMPARE_DAYS = 30


def stage_name(t: Translator, stage: str) -> str:
    """Return a stage's name in the page's language (the engine's names; ``none``: no stage then)."""
    if stage == aipl.NONE:
        return t("analytics.aipl.none")
    zh, en = aipl.NAMES[stage]
    return zh if t.locale == "zh-CN" else en


def rules(t: Translator, table: aipl.RULES = aipl.DEFAULT) -> list[tuple[str, str]]:
    """Return each stage's name and, as text, the alternatives any of which puts a customer there."""
    out = []
    for stage in aipl.STAGES:
        alternatives = []
        for alt in table[stage]:
            parts = [t("analytics.aipl.events", n=alt.at_least) + " " + ", ".join(alt.events)] if alt.events else []
            parts += [t("analytics.aipl.orders", n=alt.orders)] if alt.orders else []
            alternatives.append(f" {t('analytics.and')} ".join(parts))
        out.append((stage_name(t, stage), f" {t('analytics.or')} ".join(alternatives)))
    return out


def read_controls(request: Request) -> tuple[Controls, RfmParams | None, RfmParams | None]:
    """Return the page's controls and the parameters at the as-of day and the earlier day (if any)."""
    c = Controls.of(request)
    return c, *dated(c, DEFAULT_WINDOW, COMPARE_DAYS)


def _present(t: Translator, params: RfmParams, earlier: RfmParams | None) -> Any:
    def present(value: tuple[dict[str, int], dict[tuple[str, str], int] | None]) -> dict[str, Any]:
        stages, flows = value
        total = sum(stages.values())
        out: dict[str, Any] = {
            "total": total, "flows": None,
            "stages": [{"code": s, "name": stage_name(t, s), "customers": stages[s], "share": share(stages[s], total)}
                       for s in aipl.STAGES],
            "chart": bars([stage_name(t, s) for s in aipl.STAGES],
                          [(t("analytics.customers"), [stages[s] for s in aipl.STAGES], PALETTE[0])])}
        if earlier is not None and flows is not None:
            out["flows"] = [{"from": stage_name(t, a), "to": stage_name(t, b), "customers": n, "stay": a == b,
                             "from_code": a, "to_code": b}
                            for (a, b), n in sorted(flows.items(), key=lambda kv: (-kv[1], kv[0]))]
            out["sankey"] = sankey(flows, lambda s: stage_name(t, s), [*aipl.STAGES, aipl.NONE],
                                   earlier.as_of.isoformat(), params.as_of.isoformat())
        return out
    return present


def _page(request: Request, session: Session, compute: bool) -> Response:
    controls, params, earlier = read_controls(request)
    analysis = None
    if params is not None:
        tz = request.app.state.settings.tz

        def run(facts: Facts) -> tuple[dict[str, int], dict[tuple[str, str], int] | None]:
            return aipl.distribution(facts, params, tz), aipl.flows(facts, earlier, params, tz) if earlier else None

        analysis = Analysis(("aipl", params, earlier), run, _present(controls.t, params, earlier))
    return respond(request, session, controls, "analytics/aipl.html", "analytics/_aipl.html", analysis,
                   compute=compute, title_key="analytics.aipl.title", rules=rules(controls.t))


add_pages(router, "/analytics/aipl", _page)
