"""Measure how closely real `siyu worker` processes hold a channel's rate limit over wall-clock minutes.

Reproduce:
  .venv/bin/python benchmarks/bench_ratelimit.py [--per-minute 6000] [--workers 2] [--seconds 130]
  .venv/bin/python benchmarks/bench_ratelimit.py --postgres "$(scripts/postgres.sh start)" --workers 3

Builds a fresh store (a temporary SQLite file, or a new database ``siyu_bench_rate`` on the
PostgreSQL server ``--postgres`` names), sets the outbox policy's ``rate_per_minute`` for the WeCom
channel (no caps, quiet hours off) and enqueues more due messages than the run can send, so the
workers always have a backlog. Then it starts ``--workers`` real ``siyu worker`` processes, each
with ``--dispatch-share 1/N`` (the token buckets are per process), lets them run ``--seconds`` of
wall-clock time from the first delivery and stops them.

The receiving end is the record-only WeCom adapter's ``recorded_deliveries`` table: one row per
message with the time it was recorded. The benchmark counts the deliveries in every 60-second
window that starts at a delivery and ends before the workers were told to stop, and prints the smallest, median and
largest count against the configured limit (the target: within 1 % over a minute), the first
minute on its own (it includes the buckets' start-up burst of half a second's tokens), and checks
exactly-once: no key recorded twice, and no more deliveries than messages marked sent plus the
batches in flight when the workers stopped.
"""

from __future__ import annotations

import argparse
import bisect
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Engine, distinct, func, make_url, select

from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.outbox.models import OutboxMessage, RecordedDelivery
from siyu.domains.outbox.service import save_policy
from siyu.kit.time import utcnow

SIYU = Path(sys.executable).with_name("siyu")
SECRET = "bench-secret-key-0123456789abcdef0123456789"
DB = "siyu_bench_rate"
WINDOW = 60.0
BATCH = 200  # SIYU_DISPATCH_BATCH's default


def _postgres_store(server: str) -> str:
    """Create the benchmark's database afresh on ``server`` and return its URL."""
    url = make_url(server)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return url.set(database=DB).render_as_string(hide_password=False)


def _fill(engine: Engine, per_minute: int, messages: int) -> None:
    now = utcnow() - timedelta(minutes=1)
    with unit_of_work(engine) as s:
        save_policy(s, {"caps": [], "quiet_hours": {"enabled": False}, "rate_per_minute": {"wecom": per_minute}},
                    actor="bench")
        for start in range(0, messages, 5000):
            enqueue(s, [NewMessage(f"rate:{i}", "bench", "wecom", {"text": "hi"}, customer_id=i + 1,
                                   category="marketing" if i % 2 else "transactional", source="mass:1",
                                   send_after=now)
                        for i in range(start, min(messages, start + 5000))], now=now)


def _first_delivery(engine: Engine, timeout: float = 300.0) -> None:
    """Wait until the workers have recorded a delivery (they take seconds to start on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(RecordedDelivery)):
                return
        time.sleep(0.2)
    sys.exit(f"no delivery within {timeout:.0f} s of starting the workers")


def _run_workers(engine: Engine, url: str, workers: int, seconds: float, log_dir: Path) -> float:
    """Run the workers from their first delivery for ``seconds``; return when they were told to stop (epoch s)."""
    env = {**os.environ, "SIYU_DATABASE_URL": url, "SIYU_SECRET_KEY": SECRET, "SIYU_LOG_LEVEL": "WARNING",
           "SIYU_DISPATCH_BATCH": str(BATCH)}
    share = f"{1 / workers:.6f}"
    procs = []
    for n in range(workers):
        log = (log_dir / f"worker-{n}.log").open("w")
        procs.append((subprocess.Popen([str(SIYU), "worker", "--dispatch-share", share], env=env, stdout=log,
                                       stderr=subprocess.STDOUT), log))
    stopped = 0.0
    try:
        _first_delivery(engine)
        time.sleep(seconds)
        stopped = time.time()
    finally:
        for proc, _log in procs:
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: the worker stops its loops
        for proc, log in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    return stopped


def _windows(stamps: list[float], end: float) -> list[int]:
    """Return the deliveries in each 60-s window that starts at a delivery and ends by ``end``."""
    return [bisect.bisect_left(stamps, t + WINDOW) - i for i, t in enumerate(stamps) if t + WINDOW <= end]


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-minute", type=int, default=6000, help="the WeCom channel's configured calls per minute")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=130.0, help="wall-clock seconds from the first delivery (over a minute)")
    ap.add_argument("--postgres", default="", help="a PostgreSQL server URL (a database is created on it)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="siyu-bench-rate-"))
    url = _postgres_store(args.postgres) if args.postgres else f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    messages = int(args.per_minute * (args.seconds + 60) / 60 * 1.5) + 1000  # a backlog to the end
    _fill(engine, args.per_minute, messages)
    print(f"store: {engine.dialect.name}; limit: {args.per_minute:,}/min on wecom; workers: {args.workers} "
          f"(share {1 / args.workers:.3f} each); messages queued: {messages:,}; run: {args.seconds:.0f} s; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    stopped = _run_workers(engine, url, args.workers, args.seconds, tmp)
    with engine.connect() as conn:
        stamps = sorted(t.timestamp() for t in conn.scalars(select(RecordedDelivery.recorded_at)))
        keys = conn.scalar(select(func.count(distinct(RecordedDelivery.idempotency_key))))
        sent = conn.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
    engine.dispose()
    print(f"load average after: {os.getloadavg()[0]:.1f}; logs in {tmp}")
    if len(stamps) < 2 or min(stamps[-1], stopped) - stamps[0] < WINDOW:
        sys.exit(f"too few deliveries ({len(stamps)}) to judge a minute: see the worker logs in {tmp}")
    end = min(stamps[-1], stopped)  # windows end before the stop signal (and before the backlog could run out)
    counts = _windows(stamps, end)
    first = bisect.bisect_left(stamps, stamps[0] + WINDOW)
    span = stamps[-1] - stamps[0]
    print(f"deliveries: {len(stamps):,} over {span:.1f} s ({len(stamps) / span * 60:,.0f}/min on average); "
          f"backlog left: {messages - len(stamps):,}")
    print(f"first minute (includes the start-up burst): {first:,} ({(first / args.per_minute - 1) * 100:+.2f} %)")
    low, mid, high = min(counts), statistics.median(counts), max(counts)
    worst = max(abs(low / args.per_minute - 1), abs(high / args.per_minute - 1)) * 100
    print(f"every 60-s window ({len(counts):,} of them): min {low:,}  median {mid:,.0f}  max {high:,}  "
          f"against {args.per_minute:,}: worst deviation {worst:.2f} % ({'within' if worst <= 1 else 'NOT within'} 1 %)")
    in_flight = len(stamps) - sent  # recorded, not yet marked when the workers were stopped: sent again never
    ok = len(stamps) == keys and 0 <= in_flight <= args.workers * BATCH
    print(f"exactly once: {len(stamps):,} deliveries, {keys:,} distinct keys, {sent:,} messages marked sent, "
          f"{in_flight} recorded in the batches in flight at the stop ({'ok' if ok else 'MISMATCH'})")


if __name__ == "__main__":
    main()
