"""What every analysis page shares: the page and its result slot, chart data, shares.

A page is two requests. ``GET /analytics/<page>`` answers at once with the controls (and errors
beside them, 422) and, if this exact analysis was computed since the last fact arrived, its result;
otherwise a slot that HTMX fills from ``GET /analytics/<page>/result`` (the same page with the
result, or only the result for HTMX), which computes it or, while the mirror syncs, says so and asks
again. Funnels and GMV pages are built the same way (:func:`respond`, ``analytics/_macros.html``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from siyu.analytics.engines import Facts
from siyu.web.console.auth import ConsoleUser, require
from siyu.web.console.render import is_htmx, page
from siyu.web.console.routes.analytics_forms import Controls
from siyu.web.console.routes.analytics_run import Computed, Pending, SyncFailed, runner
from siyu.web.deps import get_session

SLOT = "analytics/_result.html"
# one colour per state, the same on both sides of a Sankey chart
PALETTE = ("#0a7d55", "#3b82f6", "#d97706", "#b42318", "#7c3aed", "#0891b2", "#65a30d", "#db2777")  # "none": grey


@dataclass(frozen=True)
class Analysis:
    """One analysis a page shows: what identifies it, how to compute it, and how to show its value."""

    key: Hashable
    compute: Callable[[Facts], Any]
    present: Callable[[Any], dict[str, Any]]  # the body template's values from the computed value


def respond(request: Request, session: Session, controls: Controls, template: str, body: str,
            analysis: Analysis | None, *, compute: bool, **values: Any) -> Response:
    """Render an analysis page (or, for HTMX, its result alone); compute only when ``compute``."""
    fragment = compute and is_htmx(request)
    state: Computed | Pending | None = None
    failed = None
    if analysis is not None and not controls.errors:
        run = runner(request)
        try:
            state = run.run(session, analysis.key, analysis.compute) if compute else run.recall(session, analysis.key)
        except SyncFailed as exc:
            failed = str(exc)
    shown = state.previous if isinstance(state, Pending) else state
    context = {"controls": controls, "errors": controls.errors, "v": controls.values, "state": state, "body": body,
               "failed": failed, "result_url": f"{request.url.path.removesuffix('/result')}/result?{controls.query()}",
               **values, **(analysis.present(shown.value) if analysis is not None and shown is not None else {})}
    status = 422 if controls.errors else 200
    return page(request, SLOT if fragment else template, status=status, **context)


Build = Callable[[Request, Session, bool], Response]  # (request, session, compute) → the page or its result


def add_pages(router: APIRouter, path: str, build: Build, capability: str = "analytics.view") -> None:
    """Serve an analysis at ``path`` (controls, and a result already computed) and ``path/result`` (computes)."""

    def show(request: Request, _user: ConsoleUser = Depends(require(capability)),
             session: Session = Depends(get_session, scope="function")) -> Response:
        """Show the page's controls at once, and its result if computed on the store as it is now."""
        return build(request, session, False)

    def result(request: Request, _user: ConsoleUser = Depends(require(capability)),
               session: Session = Depends(get_session, scope="function")) -> Response:
        """Compute the analysis for the controls (or say the mirror is syncing) and show it."""
        return build(request, session, True)

    router.add_api_route(path, show, methods=["GET"])
    router.add_api_route(f"{path}/result", result, methods=["GET"])


def share(part: int, whole: int) -> Decimal | None:
    """Return ``part`` as a percentage of ``whole`` with one decimal (None when ``whole`` is 0)."""
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")) if whole else None


def heat(part: int, whole: int) -> int:
    """Return the colour step 0–10 of a share (the retention triangle's and the grid's scale)."""
    return min(10, (part * 10 + whole // 2) // whole) if whole else 0


def sankey(flows: dict[tuple[str, str], int], label: Callable[[str], str], order: Sequence[str],
           before: str, after: str) -> dict[str, Any]:
    """Return a Sankey chart of moves between two dates (a node per state and side: staying is a flow)."""
    used = {a for a, _ in flows} | {b for _, b in flows}
    states = [s for s in order if s in used] + sorted(used - set(order))
    nodes = [{"name": f"{side}:{s}", "label": f"{label(s)} · {day}", "color": "#9ca3af" if s == "none" else PALETTE[i % len(PALETTE)]}
             for side, day in (("a", before), ("b", after)) for i, s in enumerate(states)
             if any((a if side == "a" else b) == s for a, b in flows)]
    links = [{"source": f"a:{a}", "target": f"b:{b}", "value": n, "label": f"{label(a)} → {label(b)}"}
             for (a, b), n in sorted(flows.items(), key=lambda kv: -kv[1]) if n]
    return {"nodes": nodes, "links": links}


def bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]], *,
         stack: bool = False) -> dict[str, Any]:
    """Return a bar chart: one bar per category and series ``(name, values, colour)``."""
    return {"categories": list(categories), "stack": stack,
            "series": [{"name": name, "data": list(values), "color": color} for name, values, color in series]}
