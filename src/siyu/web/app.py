"""The ASGI application: API routers of every domain, the console, error mapping, limits, request ids.

Errors keep the JSON shape on API paths and render as HTML pages on console paths.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from siyu import __version__
from siyu.analytics.moves import HealthMoves
from siyu.config import Settings, get_settings
from siyu.db.engine import is_busy, make_engine, ping, session_factory
from siyu.errors import Busy, SiyuError
from siyu.kit import logs
from siyu.web import console, routers
from siyu.worker.engagement import EngagementLoops
from siyu.worker.refresher import SummaryRefresher
from siyu.worker.segments import SegmentRefresher
from siyu.worker.scores import score_schedule

log = structlog.get_logger("siyu.http")
SHUTDOWN_WAIT = 10.0  # seconds a stopping server waits for a refresh under way (it rolls back if cut short)


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413.

    A declared Content-Length over the limit is refused before reading. A body without one
    (chunked) is buffered up to the limit, then replayed to the app; past the limit it is refused.
    Either way the app never sees an oversized body and no error escapes as a 500.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    def _refuse(self) -> JSONResponse:
        return _error(413, "payload_too_large", f"request body is over {self.limit} bytes; send smaller batches")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await self._refuse()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse()(scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _document_raw_bodies(app: FastAPI) -> None:
    """Add schemas of bodies that endpoints parse themselves (for speed) to the OpenAPI document."""
    base = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = base()
        comps = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in routers.openapi_models():
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            comps.update(schema.pop("$defs", {}))
            comps[model.__name__] = schema
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _lifespan(settings: Settings, engine: Engine, schedule: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Return the app's lifespan: with ``schedule``, the refreshers (and the engagement loops if so set) run."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        refresher = None
        if schedule and settings.summary_refresh_seconds > 0:
            refresher = SummaryRefresher(engine, settings.tz, settings.summary_refresh_seconds,
                                         scores=score_schedule(engine, settings))
            refresher.start()
        segments = SegmentRefresher(engine, settings) if schedule and settings.segment_refresh_seconds > 0 else None
        if segments is not None:
            segments.start()
        engagement = EngagementLoops(engine, settings) if schedule and settings.server_runs_worker else None
        if engagement is not None:
            engagement.start()
        try:
            yield
        finally:
            if engagement is not None:
                await run_in_threadpool(engagement.stop, SHUTDOWN_WAIT)
            if refresher is not None:
                await run_in_threadpool(refresher.stop, SHUTDOWN_WAIT)
            if segments is not None:
                await run_in_threadpool(segments.stop, SHUTDOWN_WAIT)

    return lifespan


def create_app(settings: Settings | None = None, engine: Engine | None = None, *, schedule: bool = False) -> FastAPI:
    """Build the application for ``settings`` (default: from the environment).

    With ``schedule`` (``siyu serve``) the dashboard's summaries are refreshed in the background every
    ``SIYU_SUMMARY_REFRESH_SECONDS`` while the app runs.
    """
    settings = settings or get_settings()
    logs.configure(settings.log_level)
    engine = engine or make_engine(settings.effective_database_url)
    app = FastAPI(title="Siyu API", version=__version__, lifespan=_lifespan(settings, engine, schedule),
                  description="Siyu (私域) private-domain operations platform: ingestion, OneID, customers, channel codes.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.customer_moves = HealthMoves(settings.tz)  # the customers list's entered/lost filters (a port)
    app.state.sessionmaker = session_factory(engine)

    _error_handlers(app)
    _request_ids(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Answer when the server is up and its database reachable."""
        ping(engine)
        return {"status": "ok", "version": __version__}

    for router in routers.all_routers():
        app.include_router(router, prefix="/api/v1")
    for router in routers.public_routers():
        app.include_router(router)
    console.mount(app)
    _document_raw_bodies(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Map errors to the JSON error shape on the API and to HTML pages on the console."""
    codes = {404: "not_found", 405: "method_not_allowed"}

    @app.exception_handler(SiyuError)
    async def _siyu_error(request: Request, exc: SiyuError) -> Response:
        if console.is_console(request):
            return await run_in_threadpool(console.siyu_error_page, request, exc)
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status)

    @app.exception_handler(OperationalError)
    async def _database_error(request: Request, exc: OperationalError) -> Response:
        if not is_busy(exc):
            raise exc  # anything else is a fault of ours: a 500, logged
        busy = Busy("the database is busy with other writes; nothing of this request was stored: retry in a few "
                    "seconds")
        log.warning("database_busy", path=request.url.path)
        response = await _siyu_error(request, busy)
        response.headers["Retry-After"] = str(busy.retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = codes.get(exc.status_code, "http_error")
        if console.is_console(request):
            return await run_in_threadpool(console.error_page, request, exc.status_code, code)
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if console.is_console(request):
            return await run_in_threadpool(console.error_page, request, 422, "validation_error")
        errors = [{"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "code": e["type"], "message": e["msg"]}
                  for e in exc.errors()]
        if any(e["code"] == "json_invalid" for e in errors):
            return _error(400, "malformed_json", "request body is not valid JSON", fields=errors)
        return _error(422, "validation_error", "request does not match the schema; see fields", fields=errors)


def _request_ids(app: FastAPI) -> None:
    """Bind a request id to every log line of a request, and log one line per request."""

    @app.middleware("http")
    async def _request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        request.state.request_id = rid
        structlog.contextvars.bind_contextvars(request_id=rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
            ms = round((time.perf_counter() - started) * 1000, 1)
            log.info("request", method=request.method, path=request.url.path, status=response.status_code,
                     ms=ms, actor=getattr(request.state, "actor", None))
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        response.headers["x-request-id"] = rid
        response.headers["server-timing"] = f"app;dur={ms}"  # server time to the first byte, for browsers and benchmarks
        return response
