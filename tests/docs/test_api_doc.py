"""docs/api.md stays true to the app: every route under /api/v1 is documented, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.web.app import create_app

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PREFIX = "/api/v1"
HEADING = re.compile(r"^### (GET|POST|PUT|PATCH|DELETE) (/api/v1/\S*)\s*$", re.MULTILINE)


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    """Return (method, path) of every route under /api/v1, walking included routers if FastAPI keeps them."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # newer FastAPI keeps include_router() as one entry per router
            pairs = [(ctx.path, getattr(ctx.original_route, "methods", None)) for ctx in contexts()]
        else:
            pairs = [(getattr(route, "path", ""), getattr(route, "methods", None))]
        for path, methods in pairs:
            if path.startswith(PREFIX):
                found |= {(m, path) for m in (methods or ()) if m != "HEAD"}
    return found


def _openapi_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in app.openapi()["paths"].items() if path.startswith(PREFIX)
            for method in ops}


def _app(settings: Settings, db_engine: Engine) -> FastAPI:
    return create_app(Settings(secret_key="x" * 40, env="test", data_dir=settings.data_dir), db_engine)


def test_every_api_route_is_documented(settings: Settings, db_engine: Engine) -> None:
    app = _app(settings, db_engine)
    routes = _routes(app)
    assert len(routes) >= 25  # the walk found the routers (a silent empty set would pass vacuously)
    assert routes == _openapi_routes(app)
    text = API_DOC.read_text(encoding="utf-8")
    missing = sorted(f"{method} {path}" for method, path in routes if path not in text)
    assert missing == [], f"routes missing from docs/api.md: {missing}"
    undocumented = sorted(f"{method} {path}" for method, path in routes if f"### {method} {path}\n" not in text)
    assert undocumented == [], f"routes without a '### METHOD path' heading in docs/api.md: {undocumented}"


def test_api_doc_documents_no_route_that_does_not_exist(settings: Settings, db_engine: Engine) -> None:
    routes = _routes(_app(settings, db_engine))
    documented = set(HEADING.findall(API_DOC.read_text(encoding="utf-8")))
    assert sorted(documented - routes) == []
