"""Structured logging: key=value lines with an ISO UTC timestamp, the level and the request id.

The request id is bound per request with structlog's contextvars (see web/app.py), so every line
logged while serving a request carries it.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: str = "INFO") -> None:
    """Configure structlog (and the stdlib root logger it renders through) once per process."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"SIYU_LOG_LEVEL {level!r} is not a logging level such as INFO or DEBUG")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event", "request_id"],
                                                  drop_missing=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,  # re-read on each call, so reconfiguring (tests, reloads) takes effect
    )


def current_request_id() -> str | None:
    """Return the id of the request being served in this context (None outside a request)."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None
