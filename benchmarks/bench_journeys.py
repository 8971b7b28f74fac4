"""Measure the journey scheduler: step executions per second, and a large enrolment with its first step.

Reproduce (PostgreSQL from scripts/postgres.sh; the database is created and dropped by the script):
  .venv/bin/python benchmarks/bench_journeys.py --postgres-url "$(scripts/postgres.sh start)" --customers 100000
  .venv/bin/python benchmarks/bench_journeys.py --postgres-url "$(scripts/postgres.sh start)" --customers 1000000 \
      --enrol segment --skip-second-leg
A/B against an older commit: ``git worktree add /tmp/base <commit>`` and run this same script with
``PYTHONPATH=/tmp/base/src`` (and another ``--database``), so both sides are measured the same way.

What it does, on a fresh database with ``--customers`` bare customers:
1. **Enrol** (``--enrol manual``, the default): a journey (send a marketing message, wait a day,
   create a staff task, add a tag) is published and every customer enrolled by hand in batches of
   10,000 (re-entry check, holdout draw, one bulk insert each): customers enrolled per second.
   With ``--enrol segment`` the same steps hang off a ``segment_entered`` trigger instead: a segment
   of every customer is created (its evaluation writes one stay per customer), and the schedulers'
   ticks enrol from those stays and run the first step; enrolment and first step are timed together.
2. **First steps**: the scheduler ticks at the enrolment time with ``--workers`` processes at once:
   each enrolment runs ``send_message`` and enters the wait. Step runs per second over the wall time.
3. **Second leg**: the clock moves a day on and the tick runs ``wait`` (completion), ``create_task``
   and ``add_tag`` for everyone: three steps per enrolment. Step runs per second.
Then it checks that every side effect happened exactly once (enrolments, outbox messages, tasks, step runs).

The machine may be shared, so besides wall time each phase prints the CPU it cost per step run:
the scheduler processes' own (client) and their PostgreSQL backends' (server, read from /proc);
compare those between commits rather than the wall times. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, text
from sqlalchemy.engine import Engine, make_url

from siyu.config import Settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains.customers import Customer
from siyu.domains.journeys import RecordOnlyCouponIssuer, service
from siyu.domains.journeys.engine import Context
from siyu.domains.journeys.models import Enrolment, StepRun
from siyu.domains.journeys.tasks import tick
from siyu.domains.outbox.models import OutboxMessage
from siyu.domains.segments import service as segments
from siyu.domains.tasks.models import StaffTask
from siyu.kit.crypto import PiiVault
from siyu.kit.time import UTC

SECRET = "bench-secret-key-0123456789abcdef0123456789"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
STEPS = [
    {"id": "hello", "type": "send_message", "channel": "wecom", "content": {"text": "欢迎"}, "next": "day"},
    {"id": "day", "type": "wait", "duration": {"days": 1}, "next": "call"},
    {"id": "call", "type": "create_task", "title": "回访", "next": "tag"},
    {"id": "tag", "type": "add_tag", "tag": "已回访"}]
EVERYONE = {"attribute": "first_seen_at", "op": "is_set"}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


class Cpu:
    """CPU seconds of this process and of the PostgreSQL backends of an engine's connections."""

    def __init__(self, engine: Engine) -> None:
        self.backends: list[int] = []
        event.listen(engine, "connect", self._connected)

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backends.append(cursor.fetchone()[0])

    def read(self) -> tuple[float, float]:
        """Return (client, server) CPU seconds so far."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        server = 0.0
        for pid in self.backends:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # that connection was closed: its CPU is lost to the count (pools keep theirs)
            server += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return usage.ru_utime + usage.ru_stime, server


def _fresh_database(base: str, name: str) -> str:
    url = make_url(base)
    admin = make_engine(str(url.set(database="postgres")))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    target = url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(target)
    upgrade(engine)
    engine.dispose()
    return target


def _customers(engine: Engine, n: int) -> list[int]:
    row = {"first_seen_at": T0, "created_at": T0, "updated_at": T0, "attributes": {}, "gender": "unknown"}
    for i in range(0, n, 20_000):
        with unit_of_work(engine) as s:
            s.execute(insert(Customer.__table__), [row] * min(20_000, n - i))
    with unit_of_work(engine, write=False) as s:
        return list(s.scalars(select(Customer.id).order_by(Customer.id)))


def _context() -> Context:
    settings = Settings(data_dir=Path("/tmp"), secret_key=SECRET, env="test")
    # settings render content items into messages; an older checkout's Context (an A/B run) has no such field
    extra = {"settings": settings} if "settings" in {f.name for f in fields(Context)} else {}
    return Context(tz=settings.tz, vault=PiiVault(SECRET), coupons=RecordOnlyCouponIssuer(), **extra)


def _tick_worker(url: str, now: datetime, batch: int, out: multiprocessing.Queue) -> None:
    engine = make_engine(url)
    cpu = Cpu(engine)
    client0, _ = cpu.read()
    steps = enrolled = 0
    while True:  # until nothing is due (tick stops after max_batches)
        done = tick(lambda: unit_of_work(engine), _context(), now, batch=batch, max_batches=50)
        steps, enrolled = steps + done.steps, enrolled + done.enrolled
        if done.steps == 0 and done.enrolled == 0:
            break
    client, server = cpu.read()
    engine.dispose()
    out.put((steps, enrolled, client - client0, server))


def _run(url: str, now: datetime, workers: int, batch: int) -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_tick_worker, args=(url, now, batch, queue)) for _ in range(workers)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return {"seconds": time.perf_counter() - started, "steps": sum(r[0] for r in results),
            "enrolled": sum(r[1] for r in results), "client": sum(r[2] for r in results),
            "server": sum(r[3] for r in results)}


def _per_step(run: dict[str, float]) -> str:
    n = max(run["steps"], 1)
    return (f"CPU per step run: client {1e6 * run['client'] / n:,.0f} µs, server {1e6 * run['server'] / n:,.0f} µs, "
            f"together {1e6 * (run['client'] + run['server']) / n:,.0f} µs")


def _timed(engine: Engine, cpu: Cpu, work: Callable[[], None]) -> dict[str, float]:
    client0, server0 = cpu.read()
    started = time.perf_counter()
    work()
    client, server = cpu.read()
    return {"seconds": time.perf_counter() - started, "client": client - client0, "server": server - server0}


def _journey(engine: Engine, trigger: dict[str, Any]) -> int:
    with unit_of_work(engine) as s:
        jid = service.create_journey(s, name="bench", definition={"trigger": trigger, "steps": STEPS}, actor="bench").id
        service.publish(s, jid, actor="bench", now=T0)
    return jid


def _manual(engine: Engine, cpu: Cpu, ids: list[int], args: argparse.Namespace, url: str) -> datetime:
    jid = _journey(engine, {"type": "manual"})

    def enrol() -> None:
        for i in range(0, len(ids), 10_000):
            with unit_of_work(engine) as s:
                service.enrol_customers(s, jid, ids[i:i + 10_000], actor="bench", now=T0)

    enrolled = _timed(engine, cpu, enrol)
    print(f"enrolled {len(ids):,} customers in {enrolled['seconds']:.1f} s ({len(ids) / enrolled['seconds']:,.0f}/s); "
          f"CPU per enrolment: client {1e6 * enrolled['client'] / len(ids):,.0f} µs, "
          f"server {1e6 * enrolled['server'] / len(ids):,.0f} µs")
    first = _run(url, T0, args.workers, args.batch)
    print(f"first steps: {first['steps']:,} step runs in {first['seconds']:.1f} s with {args.workers} workers "
          f"({first['steps'] / first['seconds']:,.0f} steps/s); enrolment + first step "
          f"{enrolled['seconds'] + first['seconds']:.1f} s; {_per_step(first)}")
    return T0


def _segment(engine: Engine, cpu: Cpu, ids: list[int], args: argparse.Namespace, url: str) -> datetime:
    settings = Settings(data_dir=Path("/tmp"), secret_key=SECRET, env="test")
    with unit_of_work(engine) as s:
        sid = segments.create_segment(s, name="bench-empty", rule={"attribute": "city", "op": "is_set"},
                                      actor="bench", tz=settings.tz).id
    _journey(engine, {"type": "segment_entered", "segment": sid})
    now = datetime.now(UTC)

    def evaluate() -> None:
        with unit_of_work(engine) as s:
            segments.update_segment(s, sid, actor="bench", tz=settings.tz, rule=EVERYONE)

    evaluated = _timed(engine, cpu, evaluate)
    print(f"segment of {len(ids):,} customers evaluated (one stay each) in {evaluated['seconds']:.1f} s")
    first = _run(url, now, args.workers, args.batch)
    print(f"segment entry: {first['enrolled']:,} enrolled and {first['steps']:,} first step runs in "
          f"{first['seconds']:.1f} s with {args.workers} workers ({first['steps'] / first['seconds']:,.0f} steps/s); "
          f"{_per_step(first)}")
    return now


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--database", default="bench_journeys", help="created afresh and left behind")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--enrol", choices=("manual", "segment"), default="manual")
    parser.add_argument("--skip-second-leg", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {_load()}; {os.cpu_count()} CPUs; {args.customers:,} customers, "
          f"enrolment {args.enrol}, {args.workers} workers, batches of {args.batch}")
    url = _fresh_database(args.postgres_url, args.database)
    engine = make_engine(url)
    cpu = Cpu(engine)
    ids = _customers(engine, args.customers)
    started = (_manual if args.enrol == "manual" else _segment)(engine, cpu, ids, args, url)
    legs = 1
    if not args.skip_second_leg:
        legs = 4
        second = _run(url, started + timedelta(days=1, minutes=1), args.workers, args.batch)
        print(f"second leg: {second['steps']:,} step runs in {second['seconds']:.1f} s "
              f"({second['steps'] / second['seconds']:,.0f} steps/s); {_per_step(second)}")
    with unit_of_work(engine, write=False) as s:
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (Enrolment, OutboxMessage, StaffTask, StepRun)]
    n = len(ids)
    print(f"enrolments {counts[0]:,}, outbox {counts[1]:,}, tasks {counts[2]:,}, step runs {counts[3]:,} "
          f"(expected {n:,}, {n:,}, {n if legs == 4 else 0:,}, {legs * n:,})")
    engine.dispose()
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
