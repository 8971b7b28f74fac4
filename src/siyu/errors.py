"""One error base with a stable machine code and an HTTP status.

Services raise these; the HTTP layer maps them to JSON ``{"error": {"code", "message"}}``
and the CLI to a message and a non-zero exit.
"""

from __future__ import annotations

from typing import Any


class SiyuError(Exception):
    """Base of every error a user can cause or see."""

    code = "error"
    status = 400

    def __init__(self, message: str, code: str | None = None, status: int | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body of this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(SiyuError):
    code = "validation_error"
    status = 422


class NotFound(SiyuError):
    code = "not_found"
    status = 404


class Conflict(SiyuError):
    code = "conflict"
    status = 409


class Unauthorized(SiyuError):
    code = "unauthorized"
    status = 401


class Forbidden(SiyuError):
    code = "forbidden"
    status = 403


class PayloadTooLarge(SiyuError):
    code = "payload_too_large"
    status = 413


class Busy(SiyuError):
    """The database stayed locked by other writers for the whole busy timeout: try again shortly (503)."""

    code = "database_busy"
    status = 503
    retry_after = 5  # seconds, sent as Retry-After
