"""Benchmark: events/s through HTTP (POST /api/v1/events, batches of 500), identity resolution included.

A real `siyu serve` process serves a fresh database; a separate client process sends pre-encoded
batches over keep-alive connections. The workload is a brand's steady state: a base of known
customers (seeded first, not timed), then events of which ~88% come from known people, ~9% from
new people and ~3% link a new phone or unionid to a known person (attach or merge).
The same run also measures the in-process service rate on the same workload as a reference.

Reproduce:
    make pg-start   # only for --backend postgres
    .venv/bin/python benchmarks/bench_ingest_http.py --backend sqlite
    .venv/bin/python benchmarks/bench_ingest_http.py --backend postgres --pg-url postgresql://siyu@127.0.0.1:54329/siyu
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url

from siyu.config import Settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains.access import service as access
from siyu.domains.ingest import service as ingest
from siyu.kit.runtime import tune_gc

SECRET = "benchmark-secret-key-0123456789abcdef0123"


def identities(n: int) -> dict[str, str]:
    """Return the identity set person ``n`` shows in events."""
    ids = {"openid:wxmini": f"oMINI{n:09d}"}
    if n % 3 == 0:
        ids["phone"] = f"13{n % 7 + 3}{n:08d}"[:11]
    if n % 4 == 0:
        ids["unionid"] = f"uUNION{n:09d}"
    return ids


def make_event(i: int, person: int, rng: random.Random, ids: dict[str, str] | None = None) -> dict[str, Any]:
    """Return one realistic behavioural event."""
    kind = rng.choice(("content_viewed", "content_clicked", "page_viewed", "product_viewed", "message_received",
                       "mini_program_opened", "cart_added"))
    return {"event_id": f"bench-{i}", "type": kind, "occurred_at": f"2026-11-{1 + i % 20:02d}T{i % 24:02d}:{i % 60:02d}:00+08:00",
            "identities": ids or identities(person), "channel": "mini_program",
            "properties": {"content_id": f"c{i % 500}", "title": "秋冬新品上市", "position": i % 10}}


def workload(start: int, count: int, known: int, seed: int) -> list[dict[str, Any]]:
    """Return ``count`` events over ``known`` existing people plus new and linking ones."""
    rng = random.Random(seed)
    out = []
    fresh = known + 10_000_000 + start
    for i in range(start, start + count):
        roll = rng.random()
        if roll < 0.88:
            out.append(make_event(i, rng.randrange(known), rng))
        elif roll < 0.97:
            fresh += 1
            out.append(make_event(i, fresh, rng))
        else:
            person = rng.randrange(known)
            ids = {"openid:wxmini": f"oMINI{person:09d}", "phone": f"15{person:09d}"[:11] if person % 3 else identities(person)["phone"]}
            out.append(make_event(i, person, rng, ids))
    return out


def prepare(backend: str, pg_url: str, workdir: Path) -> str:
    """Create an empty migrated database and return its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        base = make_url(pg_url)
        admin = make_engine(str(base.set(database="postgres")))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "siyu_bench" WITH (FORCE)'))
            conn.execute(text('CREATE DATABASE "siyu_bench"'))
        admin.dispose()
        url = base.set(database="siyu_bench").render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def seed(url: str, known: int) -> tuple[str, float]:
    """Seed ``known`` people through the service; return an ingest key and the seeding rate."""
    engine = make_engine(url)
    settings = Settings(secret_key=SECRET, env="test", database_url=url)
    ctx = ingest.IngestContext.from_settings(settings)
    with unit_of_work(engine) as s:
        _key, token = access.create_api_key(s, "bench", ["ingest"])
    rng = random.Random(7)
    started = time.perf_counter()
    for start in range(0, known, 1000):
        batch = [make_event(-(start + k) - 1, start + k, rng) for k in range(min(1000, known - start))]
        for item, n in zip(batch, range(start, start + len(batch))):
            item["event_id"] = f"seed-{n}"
        with unit_of_work(engine) as s:
            ingest.ingest_events(s, ctx, batch)
    rate = known / (time.perf_counter() - started)
    engine.dispose()
    return token, rate


def in_process_rate(url: str, bodies: list[bytes]) -> float:
    """Return events/s of the service alone (no HTTP) on the given batches."""
    engine = make_engine(url)
    ctx = ingest.IngestContext.from_settings(Settings(secret_key=SECRET, env="test", database_url=url))
    items = [orjson.loads(b)["events"] for b in bodies]
    started = time.perf_counter()
    for batch in items:
        with unit_of_work(engine) as s:
            ingest.ingest_events(s, ctx, batch)
    engine.dispose()
    return sum(len(b) for b in items) / (time.perf_counter() - started)


def _client(port: int, token: str, bodies: list[bytes], out: mp.Queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, accepted = [], 0
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/events", body=body, headers=headers)
        resp = conn.getresponse()
        doc = orjson.loads(resp.read())
        latencies.append(time.perf_counter() - t0)
        if resp.status != 200:
            raise SystemExit(f"HTTP {resp.status}: {doc}")
        accepted += doc["accepted"]
    out.put((latencies, accepted))


def serve(url: str, workers: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start `siyu serve` on a free loopback port and wait until /healthz answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SIYU_DATABASE_URL": url, "SIYU_SECRET_KEY": SECRET, "SIYU_DATA_DIR": str(workdir)}
    siyu = str(Path(sys.executable).parent / "siyu")
    proc = subprocess.Popen([siyu, "serve", "--port", str(port), "--workers", str(workers)], env=env)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def http_rate(port: int, token: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], int]:
    """Send the batches from ``concurrency`` client processes; return events/s, latencies, accepted."""
    queue: mp.Queue = mp.Queue()
    shards = [bodies[k::concurrency] for k in range(concurrency)]
    procs = [mp.Process(target=_client, args=(port, token, shard, queue)) for shard in shards]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    latencies = [x for lat, _a in results for x in lat]
    accepted = sum(a for _l, a in results)
    return accepted / elapsed, latencies, accepted


def main() -> None:
    """Run the benchmark and print what it measured."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("SIYU_BENCH_POSTGRES_URL", "postgresql://siyu@127.0.0.1:54329/siyu"))
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--known", type=int, default=100_000, help="people seeded before timing")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    tune_gc()  # the reference runs in this process: give it the server's GC setup
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = prepare(args.backend, args.pg_url, workdir)
        token, seed_rate = seed(url, args.known)
        events = workload(0, args.events, args.known, seed=11)
        bodies = [orjson.dumps({"events": events[i:i + args.batch]}) for i in range(0, len(events), args.batch)]
        ref_events = workload(args.events, 20_000, args.known, seed=12)
        ref_bodies = [orjson.dumps({"events": ref_events[i:i + args.batch]}) for i in range(0, len(ref_events), args.batch)]
        proc, port = serve(url, args.workers, workdir)
        try:
            rate, latencies, accepted = http_rate(port, token, bodies, args.concurrency)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        ref = in_process_rate(url, ref_bodies)
    lat = sorted(latencies)
    print(f"backend={args.backend} events={args.events} batch={args.batch} workers={args.workers} "
          f"client_processes={args.concurrency} known_people={args.known}")
    print(f"HTTP ingest: {rate:,.0f} events/s (accepted {accepted:,})")
    print(f"batch latency: median {statistics.median(lat) * 1000:.0f} ms, p95 {lat[int(len(lat) * 0.95) - 1] * 1000:.0f} ms")
    print(f"reference, same run: in-process service {ref:,.0f} events/s (HTTP/in-process = {rate / ref:.2f}); "
          f"seeding in 1,000-event batches {seed_rate:,.0f} events/s")


if __name__ == "__main__":
    main()
