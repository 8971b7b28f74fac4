"""A digest of the facts and the identity graph a demo load leaves, ignoring wall-clock columns."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, select

from siyu.db.models import metadata

COLUMNS = {
    "customers": "id, merged_into_id, name_idx, gender, birthday, region, city, attributes, source_platform, "
                 "source_channel_code_id, first_seen_at",
    "identities": "id, kind, lookup, value, masked, customer_id, origin_customer_id, cause_type, cause_ref",
    "identity_links": "a_id, b_id, cause_type, cause_ref",
    "merges": "survivor_id, merged_id, identity_ids, via_identity_ids, cause_type, cause_ref",
    "identity_issues": "category, kind, value_masked, customer_id, other_customer_id, cause_type, cause_ref, detail, "
                       "status",
    "events": "id, event_id, type, occurred_at, identity_id, channel, properties",
    "orders": "id, order_id, identity_id, channel, store, currency, amount_fen, refunded_fen, status, placed_at, "
              "paid_at, updated_at, properties",
    "order_facts": "id, order_pk, status, fact_key, amount_fen, occurred_at, properties",
    "order_items": "id, order_pk, sku, name, category, quantity, unit_price_fen, amount_fen",
    "ownerships": "id, identity_id, staff_id, channel_code_id, source, added_at, removed_at, removed_by, "
                  "transferred_from_id",
    "customer_groups": "id, chat_id, name, owner_staff_id, created_at, dissolved_at",
    "group_memberships": "id, group_id, identity_id, joined_at, left_at, join_event_id",
    "channel_code_daily": "code_id, day, added, lost",  # ids: PostgreSQL upserts spend sequence values
    "tags": "id, name, group_name, kind",  # created_at is the wall clock of the tags service
    "customer_tags": "id, customer_id, tag_id, source, removed_at",  # so is added_at
    "outbox": "id, idempotency_key, kind, channel, category, customer_id, staff_id, payload, status, send_after",
    "staff": "id, userid, name, department, store, status, departed_at",
    "staff_transfers": "id, from_staff_id, to_staff_id, reason, customers, actor, created_at",
    "staff_behavior_daily": "staff_id, day, chat_cnt, message_cnt, reply_rate_bp, avg_reply_minutes, "
                            "negative_feedback_cnt, new_apply_cnt, new_contact_cnt",  # received_at: wall clock
    "channel_codes": "id, state, rr_cursor",
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        value = sorted(value)  # merge records list identity ids in the order the backend returned them
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


def fingerprints(engine: Engine) -> dict[str, str]:
    """Return {table: sha256 of its rows (selected columns, typed and backend-neutral) in a stable order}."""
    out = {}
    with engine.connect() as conn:
        for name, cols in COLUMNS.items():
            table = metadata.tables[name]
            columns = [table.c[c.strip()] for c in cols.split(",")]
            rows = sorted(repr(tuple(_plain(v) for v in row)) for row in conn.execute(select(*columns)))
            digest = hashlib.sha256()
            for row in rows:
                digest.update(row.encode())
            out[name] = digest.hexdigest()[:16]
    return out
