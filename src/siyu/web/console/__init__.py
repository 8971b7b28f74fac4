"""The operations console: server-rendered pages (Jinja2 + HTMX) mounted at ``/`` by the app factory.

Pages are left out of the OpenAPI schema (the API reference documents only ``/api/v1``), every
non-GET request must carry a CSRF token, and errors on console paths render as HTML pages.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from siyu.web.console.auth import LoginRequired, csrf_guard
from siyu.web.console.errors import error_page, is_console, login_redirect, siyu_error_page
from siyu.web.console.routes import (
    analytics_aipl,
    analytics_lifecycle,
    analytics_retention,
    analytics_rfm,
    attention,
    audit,
    auth,
    channel_codes,
    content,
    content_links,
    customer,
    customers,
    dashboard,
    followup,
    groups,
    identity,
    landing,
    segments,
    sidebar,
    staff,
    tags,
)
from siyu.web.console.routes import analytics_funnel, analytics_gmv, analytics_growth, channel_costs
from siyu.web.console.routes import service as service_pages
from siyu.web.console.routes import journey_edit
from siyu.web.console.routes import journeys as journey_pages
from siyu.web.console.routes import outbox as outbox_pages
from siyu.web.console.security import LoginLimiter

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
ROUTERS = (auth.router, dashboard.router, customers.router, customer.router, followup.router, identity.router, sidebar.router,
           channel_codes.router, landing.router, staff.router, groups.router, audit.router, attention.router, analytics_rfm.router,
           analytics_aipl.router, analytics_lifecycle.router, analytics_retention.router, segments.router, tags.router)
ROUTERS = (*ROUTERS, analytics_funnel.router, analytics_gmv.router, analytics_growth.router, channel_costs.router)
ROUTERS = (*ROUTERS, content_links.router, content.router)
ROUTERS = (*ROUTERS, service_pages.router)
ROUTERS = (*ROUTERS, journey_edit.router, journey_pages.router)  # /journeys/new before /journeys/{id}
ROUTERS = (*ROUTERS, outbox_pages.router)

__all__ = ["error_page", "is_console", "mount", "siyu_error_page"]


def mount(app: FastAPI) -> None:
    """Add the console's static files, pages and login redirect to ``app``."""
    app.state.login_limiter = LoginLimiter()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False, dependencies=[Depends(csrf_guard)])

    @app.exception_handler(LoginRequired)
    def _login_required(request: Request, _exc: LoginRequired) -> Response:
        return login_redirect(request)
