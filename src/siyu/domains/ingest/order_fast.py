"""A quick check of imported order facts in the shapes files usually hold: ``OrderIn`` and ``parse_order`` without pydantic.

An order fact from a JSON Lines file (or a CSV row once mapped) is a dict. When every field has the
plain form (strings without surrounding spaces within their limits, amounts as strings or integers
of yuan with at most two decimals, quantities as integers, a known status, a time as epoch integer
or ISO-8601 with an offset, identities and properties as JSON objects with trimmed keys), the fact
is built here directly, exactly as ``parse_order`` builds it. Anything else returns ``None`` and goes
through ``parse_order`` (pydantic), so every rejection keeps its code and message; this path only
ever accepts (tests/domains/ingest/test_order_fast.py compares both, and the tables both leave).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from siyu.domains.ingest.columns import DECLINED, utc_time
from siyu.domains.ingest.orders import OrderFact, OrderFactIn, parse_order
from siyu.domains.ingest.schemas import ORDER_STATUSES, IngestResult
from siyu.domains.ingest.service import IngestContext, Prepared, check_batch_size, normalise_identities
from siyu.domains.ingest.validation import ItemRejected, rejection

KEYS = frozenset({"order_id", "status", "occurred_at", "amount", "currency", "identities", "channel", "store", "items",
                  "refund_amount", "refund_id", "properties"})
LINE_KEYS = frozenset({"sku", "name", "category", "quantity", "unit_price", "amount"})
STATUSES = frozenset(ORDER_STATUSES)
_YUAN = re.compile(r"(\d{1,15})(?:\.(\d{1,2}))?\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")


class _Declined(Exception):
    """The quick check is unsure: the per-item path decides."""


def _text(raw: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required or key in raw:
            raise _Declined
        return None
    if type(value) is not str or not 0 < len(value) <= limit or value.strip() is not value:
        raise _Declined
    return value


def _fen(value: Any) -> int:
    """Return yuan as integer fen (what ``to_fen`` makes of the Decimal pydantic would read), or decline."""
    if type(value) is int and value >= 0:
        return value * 100
    if type(value) is str and value.isascii() and (m := _YUAN.match(value)):
        return int(m[1]) * 100 + (int(m[2].ljust(2, "0")) if m[2] else 0)
    raise _Declined


def _object(value: Any) -> dict[str, Any]:
    if type(value) is not dict or any(type(k) is not str or k.strip() is not k for k in value):
        raise _Declined
    return value


def _lines(items: Any) -> list[dict[str, Any]]:
    if type(items) is not list or len(items) > 500:
        raise _Declined
    out = []
    for line in items:
        if type(line) is not dict or not line.keys() <= LINE_KEYS:
            raise _Declined
        quantity = line.get("quantity", 1)
        if type(quantity) is not int or not 1 <= quantity <= 100000 or line.get("unit_price") is None:
            raise _Declined
        unit = _fen(line["unit_price"])
        total = unit * quantity if line.get("amount") is None and "amount" not in line else _fen(line["amount"])
        out.append({"sku": _text(line, "sku", 64, True), "name": _text(line, "name", 200),
                    "category": _text(line, "category", 64), "quantity": quantity, "unit_price_fen": unit,
                    "amount_fen": total})
    return out


def _when(value: Any) -> Any:
    if type(value) is int and value >= 0:
        return utc_time(str(value))
    if type(value) is str and not value.isdigit():  # a string of digits: pydantic's own reading decides
        return utc_time(value)
    return DECLINED


def quick_order(ctx: IngestContext, raw: Any) -> OrderFactIn | None:
    """Return the fact ``parse_order`` would make of ``raw`` when every field has its plain form, else None."""
    try:
        return _quick(ctx, raw)
    except _Declined:
        return None


def _quick(ctx: IngestContext, raw: Any) -> OrderFactIn:
    if type(raw) is not dict or not raw.keys() <= KEYS:
        raise _Declined
    status = raw.get("status")
    when = _when(raw.get("occurred_at"))
    currency = raw.get("currency", "CNY")
    if status not in STATUSES or when is DECLINED or type(currency) is not str or not _CURRENCY.match(currency):
        raise _Declined
    order_id = _text(raw, "order_id", 128, True)
    amount = _fen(raw.get("amount"))
    refund_id = _text(raw, "refund_id", 128)
    refund = 0
    if status == "refunded":
        refund = amount if raw.get("refund_amount") is None and "refund_amount" not in raw else _fen(raw["refund_amount"])
        if refund > amount:
            raise _Declined
    elif "refund_amount" in raw or refund_id is not None:
        raise _Declined
    properties = _object(raw.get("properties", {}))
    if properties and len(orjson.dumps(properties, option=orjson.OPT_NON_STR_KEYS)) > ctx.settings.max_properties_bytes:
        raise _Declined
    identities = _object(raw.get("identities", {}))
    if len(identities) > 12:
        raise _Declined
    lines = _lines(raw.get("items", []))
    fact = OrderFact(order_id, status, when, currency, _text(raw, "channel", 64), _text(raw, "store", 64),  # type: ignore[arg-type]
                     refund_id, properties)
    try:
        norm = normalise_identities(ctx, identities, required=False)
    except ItemRejected:
        raise _Declined from None
    return OrderFactIn(fact, norm, amount, refund, lines)


def prepare_orders_quick(ctx: IngestContext, raw_items: list[Any]) -> Prepared:
    """Validate and normalise a batch of order facts as ``service.prepare_orders`` does, plain facts without pydantic."""
    check_batch_size(len(raw_items), ctx.settings.max_batch)
    result = IngestResult()
    parsed = []
    for index, raw in enumerate(raw_items):
        fact = quick_order(ctx, raw)
        if fact is None:
            try:
                fact = parse_order(raw, ctx.settings.max_properties_bytes,
                                   lambda ids: normalise_identities(ctx, ids, required=False))
            except ItemRejected as exc:
                result.rejected.append(rejection(index, exc))
                continue
        parsed.append((index, fact))
    return Prepared(parsed, result)
