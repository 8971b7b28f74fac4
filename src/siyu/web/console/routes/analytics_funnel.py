"""The funnel page: a funnel chart of the customers reaching each step, the breakdown, and who dropped where.

Numbers come from :func:`siyu.analytics.growth_reports.funnel_job`, the job behind
``GET /api/v1/analytics/funnel`` and ``siyu analyze funnel``, computed on the mirror the analysis
pages keep fresh (:mod:`analytics_run`). A step's drop-outs open a list of those customers, which
admins and operators can save as a segment (held by a manual tag, see ``funnel_segment``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics.funnel_spec import BREAKDOWNS, MODES, FunnelParams, InvalidFunnel, parse_steps, parse_window
from siyu.analytics.growth_reports import Where, funnel_dropped, funnel_job, funnel_segment
from siyu.analytics.growth_schemas import FunnelOut, FunnelStepOut
from siyu.domains.access.principal import SYSTEM
from siyu.errors import SiyuError, ValidationFailed
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.i18n import Translator
from siyu.web.console.render import page, redirect
from siyu.web.console.routes.analytics_forms import Controls
from siyu.web.console.routes.analytics_view import PALETTE, Analysis, add_pages, bars, respond
from siyu.web.deps import get_session

router = APIRouter()
DEFAULT_STEPS = "content_viewed,contact_added,order"
DEFAULT_DAYS = 30
TOP_GROUPS = 12  # breakdown values charted (the table lists them all)


def duration(t: Translator, seconds: int | None) -> str:
    """Return seconds as the largest two units (3 天 4 小时 / 3 d 4 h); a dash for none."""
    if seconds is None:
        return "–"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    shown = [t(f"growth.unit.{unit}", n=n) for n, unit in parts if n][:2]
    return " ".join(shown) or t("growth.unit.s", n=seconds)


def read_controls(request: Request) -> tuple[Controls, FunnelParams | None]:
    """Return the page's controls and the funnel they describe (None when something must be fixed)."""
    c = Controls.of(request)
    start = c.day("from", c.today - timedelta(days=DEFAULT_DAYS))
    end = c.day("to", c.today - timedelta(days=1))
    raw = {name: c.raw(name, default) for name, default in (("steps", DEFAULT_STEPS), ("window", "7d"),
                                                            ("segments", ""))}
    mode = c.choice("mode", MODES, "ordered")
    breakdown = c.choice("breakdown", ("", *BREAKDOWNS), "")
    for name, day in (("from", start), ("to", end)):
        if day is None:
            c.errors.setdefault(name, c.t("analytics.error.required"))
    found: list[FunnelParams] = []

    def build() -> None:
        ids = tuple(int(x) for x in raw["segments"].split(",") if x.strip().isdigit())
        params = FunnelParams(parse_steps(raw["steps"]), start or c.today, end or c.today, parse_window(raw["window"]),
                              mode, breakdown or None, ids)  # type: ignore[arg-type]
        params.check(c.today)
        found.append(params)

    if start is not None and end is not None:
        c.check(build)
    return c, (found[0] if found and not c.errors else None)


def _rows(t: Translator, steps: list[FunnelStepOut], query: str, link: bool) -> list[dict[str, Any]]:
    out = []
    for i, s in enumerate(steps):
        lost = steps[i - 1].customers - s.customers if i else None
        out.append({"step": s.step, "label": s.label, "customers": s.customers,
                    "from_previous": _pct(s.conversion_from_previous), "from_first": _pct(s.conversion_from_first),
                    "median_previous": duration(t, s.median_seconds_from_previous),
                    "median_entry": duration(t, s.median_seconds_from_entry), "lost": lost,
                    "lost_url": f"/analytics/funnel/dropped?{query}&step={s.step}" if link and lost else None})
    return out


def _pct(ratio: float | None) -> str | None:
    return None if ratio is None else f"{ratio * 100:.1f}"


def _present(t: Translator, controls: Controls) -> Any:
    def present(out: FunnelOut) -> dict[str, Any]:
        query = controls.query()
        values: dict[str, Any] = {
            "steps": _rows(t, out.steps, query, True),
            "funnel_chart": {"steps": [{"name": f"{s.step}. {s.label}", "value": s.customers} for s in out.steps]},
            "groups": None}
        if out.breakdown is not None:
            values["groups"] = [{"label": g.label, "value": g.value, "steps": _rows(t, g.steps, query, False)}
                                for g in out.breakdown]
            shown = out.breakdown[:TOP_GROUPS]
            values["breakdown_chart"] = bars([g.label for g in shown], [
                (f"{s.step}. {s.label}", [g.steps[s.step - 1].customers for g in shown], PALETTE[i % len(PALETTE)])
                for i, s in enumerate(out.steps)])
        return values
    return present


def _page(request: Request, session: Session, compute: bool) -> Response:
    controls, params = read_controls(request)
    analysis = None
    if params is not None:
        job = funnel_job(Where(request.app.state.engine, request.app.state.settings), params, SYSTEM)
        present = _present(controls.t, controls)
        analysis = Analysis(("funnel", params), job.compute, lambda raw: present(job.shape(raw)))
    t = controls.t
    return respond(request, session, controls, "analytics/funnel.html", "analytics/_funnel.html", analysis,
                   compute=compute, title_key="growth.funnel.title",
                   mode_options=[(m, t(f"growth.funnel.mode.{m}")) for m in MODES],
                   breakdown_options=[("", t("growth.funnel.breakdown.")),
                                      *((b, t(f"growth.funnel.breakdown.{b}")) for b in BREAKDOWNS)])


add_pages(router, "/analytics/funnel", _page)


@router.get("/analytics/funnel/dropped")
def dropped_page(request: Request, _user: ConsoleUser = Depends(require("analytics.view"))) -> Response:
    """List the customers who dropped at a step (the first 200), with a form to save them as a segment."""
    controls, params = read_controls(request)
    step = controls.number("step", 2)
    listing = None
    if params is not None:
        try:
            listing = funnel_dropped(Where(request.app.state.engine, request.app.state.settings), params, step, 200)
        except ValidationFailed as exc:
            controls.refused(exc, {})
    return page(request, "analytics/funnel_dropped.html", status=422 if controls.errors else 200,
                controls=controls, errors=controls.errors, v=controls.values, listing=listing, step=step,
                back=f"/analytics/funnel?{controls.query(step='')}", title_key="growth.funnel.dropped_title")


@router.post("/analytics/funnel/segment")
def save_segment(request: Request, name: str = Form(""), user: ConsoleUser = Depends(require("growth.edit"))) -> Response:
    """Save the customers who dropped at the step as a segment named ``name``."""
    controls, params = read_controls(request)
    step = controls.number("step", 2)
    if params is not None:
        try:
            if not name.strip():
                raise InvalidFunnel("name the segment", field="name")
            made = funnel_segment(Where(request.app.state.engine, request.app.state.settings), params, step,
                                  name.strip(), user.principal.actor)
            return redirect(request, f"/analytics/funnel/dropped?{controls.query()}&saved={made.segment_id}")
        except SiyuError as exc:
            controls.errors[str(exc.details.get("field") or "name")] = exc.message
    return page(request, "analytics/funnel_dropped.html", status=422, controls=controls, errors=controls.errors,
                v={**controls.values, "name": name}, listing=None, step=step,
                back=f"/analytics/funnel?{controls.query()}", title_key="growth.funnel.dropped_title")
