"""Measure logins while `siyu serve`'s own background jobs write: the full segments turn and the scores write-back.

A real `siyu serve` on a built store (the 1M demo store is the case that matters), with the segment
watermarks deleted (so the refresher's first turn is a full one) and SIYU_SCORES_REFRESH_SECONDS=60 (so
the scores' write-back is due at once). The bench logs in as bench_admin once a second (a login writes
its session, so it needs SQLite's write lock) until the server has logged both `segments_refreshed` and
`scores_written`, or --seconds pass. It prints the logins' latency percentiles, their status codes, and
the server's `long_write_lock` lines (writer transactions that held the lock over 2 s, with the thread).

    .venv/bin/python benchmarks/bench_background_writes.py --database-url sqlite:////tmp/d1m/siyu.db \
        --secret-key bench-secret-key-0123456789abcdef0123456789 --seconds 1800

It deletes the store's segment watermarks (the next refresh is a full one) and writes a scores run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from bench_console import PASSWORD, _serve, _siyu
from sqlalchemy import create_engine, text

DONE = ("segments_refreshed", "scores_written")


def _login(base: str) -> tuple[int, float]:
    """Log in once; return the status and the POST's wall time in ms."""
    with httpx.Client(base_url=base, timeout=120.0) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        started = time.perf_counter()
        response = client.post("/login", data={"username": "bench_admin", "password": PASSWORD, "next": "/",
                                               "csrf_token": token.group(1) if token else ""})
        return response.status_code, (time.perf_counter() - started) * 1000


def main() -> None:
    """Serve the store, log in every second while the background jobs write, print what the logins met."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--secret-key", default=os.environ.get("SIYU_SECRET_KEY", ""))
    parser.add_argument("--seconds", type=float, default=1800.0)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    env = {**os.environ, "SIYU_DATABASE_URL": args.database_url, "SIYU_SECRET_KEY": args.secret_key,
           "SIYU_SCORES_REFRESH_SECONDS": "60", "SIYU_LOG_LEVEL": "info"}
    _siyu(env, "user", "create", "bench_admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    with create_engine(args.database_url).begin() as conn:
        conn.execute(text("DELETE FROM segment_watermarks"))
    log = Path(tmp.name) / "serve.log"
    server, base = _serve(env, log, wait=600.0)
    started, logins = time.perf_counter(), []
    try:
        while time.perf_counter() - started < args.seconds:
            logins.append(_login(base))
            if all(word in log.read_text() for word in DONE):
                break
            time.sleep(1.0)
    finally:
        server.terminate()
        server.wait(timeout=120)
    text_ = log.read_text()
    ms = sorted(m for _s, m in logins)
    cut = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    print(f"{len(logins)} logins over {time.perf_counter() - started:.0f} s; statuses {dict(Counter(s for s, _m in logins))}")
    print(f"login ms: p50 {cut[49]:.0f}  p90 {cut[89]:.0f}  p99 {cut[98]:.0f}  max {ms[-1]:.0f}")
    for line in text_.splitlines():
        if any(word in line for word in (*DONE, "long_write_lock", "database_busy")):
            print(" ", line)
    if not all(word in text_ for word in DONE):
        print(f"  (not both jobs finished within {args.seconds:.0f} s)")


if __name__ == "__main__":
    main()
