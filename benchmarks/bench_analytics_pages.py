"""Time the console's analysis pages (RFM, AIPL, lifecycle, retention) over real HTTP, in bench_console's style.

Reproduce (the 1M-customer store of docs/PERFORMANCE.md; the mirror goes to --data-dir):

    .venv/bin/python benchmarks/bench_analytics_pages.py --database-url sqlite:////work/data-1m/siyu.db \\
        --secret-key bench-secret-key-0123456789abcdef0123456789 --data-dir /tmp/bench-mirror [--requests 10]

or on a small store built for the run: ``bench_analytics_pages.py --customers 20000``.

A real ``siyu serve`` process serves the store (a user ``bench_analyst`` is created in it, as
bench_console creates its users). What is measured, per page, as the server reports it (Server-Timing):

- **shell**: ``GET /analytics/<page>`` before anything was computed: the controls and an empty slot;
- **first result**: from the first ``GET …/result`` to a computed result, following the page's
  "still syncing" answers every 2 s as the browser does (the first page pays the mirror's first sync);
- **compute**: ``…/result`` for controls not computed yet, mirror current (the analysis itself);
- **remembered**: ``…/result`` and the page again for the same controls (p50 and p95 of ``--requests``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_console import PASSWORD, _login, _p95, _serve, _siyu  # noqa: E402

# (page, controls of the first view, other controls for "compute")
PAGES = (("rfm", "", "window_days=180"), ("aipl", "", "window_days=30"),
         ("lifecycle", "", "unit=week&periods=8"), ("retention", "", "unit=month&periods=6"))


def _server_ms(response: httpx.Response) -> float:
    return float(response.headers.get("server-timing", "app;dur=nan").partition(";dur=")[2])


def _until_computed(client: httpx.Client, path: str) -> tuple[float, int]:
    """Return the seconds until ``path`` answers with a computed result, and how many answers said "syncing"."""
    started, syncing = time.perf_counter(), 0
    while True:
        text = client.get(path, headers={"HX-Request": "true"}).text
        if 'data-testid="computed"' in text and 'data-testid="mirror-syncing"' not in text:
            return time.perf_counter() - started, syncing
        if 'data-testid="mirror-syncing"' not in text:
            raise SystemExit(f"{path}: neither a result nor a sync in progress:\n{text[:2000]}")
        syncing += 1
        time.sleep(2)


def _times(client: httpx.Client, path: str, n: int, **headers: str) -> list[float]:
    return [_server_ms(client.get(path, headers=headers)) for _ in range(n)]


def _bench(client: httpx.Client, requests: int) -> None:
    print(f"  {'page':<10} {'shell':>8} {'first result':>22} {'compute':>9} {'remembered p50/p95':>20} "
          f"{'page again p50':>15}")
    for name, first, other in PAGES:
        base = f"/analytics/{name}"
        shell = _server_ms(client.get(f"{base}?{first}"))
        seconds, syncing = _until_computed(client, f"{base}/result?{first}")
        compute = _server_ms(client.get(f"{base}/result?{other}", headers={"HX-Request": "true"}))
        warm = _times(client, f"{base}/result?{other}", requests, **{"HX-Request": "true"})
        again = _times(client, f"{base}?{other}", requests)
        print(f"  {name:<10} {shell:>6.0f}ms {seconds:>9.1f} s ({syncing:>2} syncing) {compute:>7.0f}ms "
              f"{statistics.median(warm):>9.1f}/{_p95(warm):.1f}ms {statistics.median(again):>13.1f}ms")


def main() -> None:
    """Serve the store, log in as an analyst, time each analysis page and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--secret-key", default=os.environ.get("SIYU_SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789"))
    parser.add_argument("--data-dir", help="where the DuckDB mirror is kept (default: a temp dir, so a first sync)")
    parser.add_argument("--customers", type=int, default=20_000, help="build a store of this size when no URL is given")
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'console.db'}"
    env = {**os.environ, "SIYU_DATABASE_URL": url, "SIYU_SECRET_KEY": args.secret_key,
           "SIYU_DATA_DIR": args.data_dir or tmp.name, "SIYU_LOG_LEVEL": "warning", "SIYU_SUMMARY_REFRESH_SECONDS": "0"}
    if not args.database_url:
        _siyu(env, "demo", "--customers", str(args.customers), "--seed", "42", "--no-progress")
    _siyu(env, "user", "create", "bench_analyst", "--role", "analyst", "--password-stdin", stdin=PASSWORD + "\n")
    server, base = _serve(env)
    try:
        client = _login(base, "bench_analyst")
        client.timeout = httpx.Timeout(600.0)
        mirror = Path(env["SIYU_DATA_DIR"]) / "analytics.duckdb"
        print(f"analysis pages on {url.rsplit('/', 1)[-1]} ({os.cpu_count()} CPUs, mirror "
              f"{'present' if mirror.exists() else 'absent'} at start, load average {os.getloadavg()[0]:.2f})")
        _bench(client, args.requests)
        print(f"  load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
