"""History rows of the demo's bulk load: events, orders, order lines and order facts.

Split from :mod:`siyu.domains.ingest.bulk` (the graph side): this module only turns generated
history into rows with ids allocated by the loader and writes them through ``bulk_repository``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from siyu.domains.ingest import bulk_repository as repo
from siyu.kit.time import UTC

EVENT_COLS = ("id", "event_id", "type", "occurred_at", "received_at", "identity_id", "channel", "properties")
ORDER_COLS = ("id", "order_id", "identity_id", "channel", "store", "currency", "amount_fen", "refunded_fen", "status",
              "placed_at", "paid_at", "updated_at", "properties")
ITEM_COLS = ("id", "order_pk", "sku", "name", "category", "quantity", "unit_price_fen", "amount_fen")
FACT_COLS = ("id", "order_pk", "status", "fact_key", "amount_fen", "occurred_at", "received_at", "properties")

def json_text(value: Any) -> str:
    """Return the JSON text the JSON columns store (what the engine's serializer writes)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class Clock:
    """Epoch seconds → what a timestamp column is written with.

    SQLite: the seconds themselves (:func:`bulk_repository.insert_rows` has SQLite format the
    columns it is told hold epoch seconds); PostgreSQL: timestamp text for ``COPY``, from two table
    look-ups.
    """

    def __init__(self, sqlite: bool):
        self.sqlite = sqlite
        self.tods = [] if sqlite else [f"{h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60)
                                       for s in range(60)]
        self.days: dict[int, str] = {}
        self.walls: dict[datetime, str] = {}  # the graph's rows share a handful of instants (one per resolver call)

    def __call__(self, t: int) -> Any:
        """Return what epoch second ``t`` is written as."""
        if self.sqlite:
            return t
        day, second = divmod(t, 86400)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = self.days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d ")
        return prefix + self.tods[second]

    def wall(self, value: datetime) -> str:
        """Return the stored form of an aware datetime with microseconds (wall-clock columns)."""
        text = self.walls.get(value)
        if text is None:
            utc = value.astimezone(UTC)
            text = self.walls[value] = utc.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else utc.isoformat()
        return text


class HistoryWriter:
    """Appends events, orders, order lines and order facts (rows in *_COLS order, times from ``clock``)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.clock = Clock(repo.is_sqlite(conn))

    def write(self, events: Sequence[tuple[Any, ...]], orders: Sequence[tuple[Any, ...]],
              items: Sequence[tuple[Any, ...]], facts: Sequence[tuple[Any, ...]]) -> None:
        """Insert one slice of history in the connection's transaction."""
        repo.insert_rows(self.conn, "events", EVENT_COLS, events, ("occurred_at",))
        repo.insert_rows(self.conn, "orders", ORDER_COLS, orders, ("placed_at", "paid_at", "updated_at"))
        repo.insert_rows(self.conn, "order_items", ITEM_COLS, items)
        repo.insert_rows(self.conn, "order_facts", FACT_COLS, facts, ("occurred_at",))


def history_ids(conn: Connection) -> dict[str, int]:
    """Return the largest id of each history table (the caller allocates from there)."""
    return repo.top_ids(conn, repo.HISTORY_TABLES)


def finish_history(conn: Connection) -> None:
    """Move PostgreSQL's id sequences past the allocated ids."""
    repo.sync_sequences(conn, repo.HISTORY_TABLES)
