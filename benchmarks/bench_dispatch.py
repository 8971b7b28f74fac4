"""Measure the outbox dispatcher: messages dispatched per second through the record-only WeCom adapter.

Reproduce:
  .venv/bin/python benchmarks/bench_dispatch.py [--messages 20000] [--batch 200] [--database-url URL]

Builds a fresh store (a temporary SQLite file unless ``--database-url`` names an empty migrated
database), enqueues ``--messages`` due WeCom messages to distinct customers (half marketing, so the
policy loads opt-outs, consents, time zones and the month's sends for them; no caps are reached and
quiet hours are off, so every message is sent), then drains the outbox twice over the same kind of
data:

- **reference**: a dispatcher whose adapter does nothing (claim, policy and mark only);
- **record-only**: the ``RecordOnlyWeComAdapter``, which writes one ``recorded_deliveries`` row per
  message in its own transaction, as a real adapter makes one call per message.

It prints both rates, their ratio, and the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from siyu.channels.wecom.adapter import RecordOnlyWeComAdapter
from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.outbox.dispatcher import Dispatcher
from siyu.domains.outbox.ports import Outgoing, SendResult
from siyu.domains.outbox.service import save_policy
from siyu.kit import logs
from siyu.kit.time import utcnow

TZ = ZoneInfo("Asia/Shanghai")


class NullAdapter:
    """Accepts every message and does nothing (the reference)."""

    channel, idempotent = "wecom", True

    def send(self, message: Outgoing) -> SendResult:
        """Return at once."""
        return SendResult("null")


def _fill(engine: Engine, n: int, tag: str) -> None:
    now = utcnow() - timedelta(minutes=1)
    with unit_of_work(engine) as s:
        save_policy(s, {"caps": [], "quiet_hours": {"enabled": False}}, actor="bench")
        for start in range(0, n, 5000):
            enqueue(s, [NewMessage(f"{tag}:{i}", "bench", "wecom", {"text": "hi"}, customer_id=i + 1,
                                   category="marketing" if i % 2 else "transactional", source=random.choice(
                                       ["journey:1:step:1", "mass:1"]), send_after=now)
                        for i in range(start, min(n, start + 5000))], now=now)


def _drain(engine: Engine, adapter: object, batch: int) -> tuple[int, float]:
    d = Dispatcher(engine, {"wecom": adapter}, tz=TZ, holder="bench", batch=batch)  # type: ignore[dict-item]
    started = time.perf_counter()
    stats = d.drain()
    return stats.sent, time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    logs.configure("WARNING")  # one info line per turn would time the terminal
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)  # a no-op on a migrated database
    print(f"store: {engine.dialect.name}; messages: {args.messages}; batch: {args.batch}; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    _fill(engine, args.messages, "ref")
    sent_ref, secs_ref = _drain(engine, NullAdapter(), args.batch)
    _fill(engine, args.messages, "rec")
    sent_rec, secs_rec = _drain(engine, RecordOnlyWeComAdapter(engine), args.batch)
    with engine.connect() as conn:
        recorded = conn.execute(text("SELECT count(*) FROM recorded_deliveries")).scalar()
    ref, rec = sent_ref / secs_ref, sent_rec / secs_rec
    print(f"reference (null adapter): {sent_ref} sent in {secs_ref:.1f} s = {ref:,.0f} messages/s")
    print(f"record-only WeCom adapter: {sent_rec} sent in {secs_rec:.1f} s = {rec:,.0f} messages/s "
          f"({recorded} recorded)")
    print(f"ratio record-only / reference: {rec / ref:.2f}; load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
