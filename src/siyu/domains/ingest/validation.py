"""Turn one raw item into a validated model, or into a rejection with a stable code."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from siyu.domains.ingest.schemas import Rejection

M = TypeVar("M", bound=BaseModel)

_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "string_too_long": "field_too_long",
    "string_too_short": "empty_field",
    "too_long": "too_many_entries",
    "too_short": "empty_field",
    "literal_error": "invalid_value",
    "string_pattern_mismatch": "invalid_value",
    "greater_than_equal": "invalid_value",
    "less_than_equal": "invalid_value",
}


class ItemRejected(Exception):
    """Raised inside item processing to reject just that item."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _from_pydantic(exc: ValidationError) -> ItemRejected:
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    kind = err["type"]
    if field == "occurred_at" and kind == "timezone_aware":
        return ItemRejected("bad_timestamp", f"occurred_at {err['input']!r} has no UTC offset; add one such as +08:00 or Z",
                            field)
    if field == "occurred_at" and kind != "missing":
        return ItemRejected("bad_timestamp", f"occurred_at: {err['msg'].removeprefix('Value error, ')}; use ISO-8601 with an offset, e.g. "
                            "2026-11-23T10:00:00+08:00, or epoch milliseconds", field)
    code = _CODES.get(kind, "invalid_type" if kind.endswith("_type") or "parsing" in kind else "invalid_value")
    return ItemRejected(code, f"{field or 'item'}: {err['msg'].removeprefix('Value error, ')}", field)


def parse_item(model: type[M], raw: Any, max_properties_bytes: int) -> M:
    """Validate ``raw`` as ``model``; raise ItemRejected with a code that says what to fix."""
    if not isinstance(raw, dict):
        raise ItemRejected("invalid_type", "each item must be a JSON object")
    try:
        item = model.model_validate(raw)
    except ValidationError as exc:
        raise _from_pydantic(exc) from exc
    props = getattr(item, "properties", None)
    if props:
        size = len(orjson.dumps(props, option=orjson.OPT_NON_STR_KEYS))
        if size > max_properties_bytes:
            raise ItemRejected("properties_too_large",
                               f"properties are {size} bytes; the limit is {max_properties_bytes}", "properties")
    return item


def rejection(index: int, exc: ItemRejected) -> Rejection:
    """Return the API form of a rejected item."""
    return Rejection(index=index, code=exc.code, message=exc.message, field=exc.field)
