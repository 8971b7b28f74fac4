"""Measure console page times (server time, p50/p95) on a built store, over real HTTP.

Reproduce (the 1M-customer store of docs/PERFORMANCE.md, built once with `siyu demo`):

    SIYU_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 SIYU_DATABASE_URL=sqlite:////work/data-1m/siyu.db \\
        .venv/bin/siyu demo --customers 1000000 --seed 42 --until 2026-11-01 --reset
    .venv/bin/python benchmarks/bench_console.py --database-url sqlite:////work/data-1m/siyu.db \\
        --secret-key bench-secret-key-0123456789abcdef0123456789 [--requests 20]

or on a small store built for the run: `bench_console.py --customers 20000`.

A real `siyu serve` process serves the store; an admin and a staff user are created for the run
(and removed again is not needed: they are ordinary users named bench_admin / bench_staff). Each page
is first requested once (warm-up: SQLite page cache, template compilation), then `--requests`
times; the figure is the server time the response reports in its Server-Timing header (the same
number the request log records), with the client's wall time and the server process's CPU time per
request (every thread, from /proc: includes any background loop's) beside it. The target is ≤ 300 ms p95.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from siyu.kit.crypto import PiiVault

ROOT = Path(__file__).resolve().parents[1]
SIYU = str(ROOT / ".venv" / "bin" / "siyu")
PASSWORD = "bench-Password-2026!"
TARGET_MS = 300.0
# What else `siyu serve` runs in its process beside the requests (a segments refresher's full pass over 1M
# customers doubles page times while it runs; SIYU_SERVE_WORKER=false does not turn it off)
BACKGROUND = ("SIYU_SERVE_WORKER", "SIYU_SEGMENT_REFRESH_SECONDS", "SIYU_SCORES_REFRESH_SECONDS",
              "SIYU_SUMMARY_REFRESH_SECONDS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env: dict[str, str], log: Path | None = None, wait: float = 30.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start `siyu serve` on a free loopback port (its output to ``log``, else dropped); return it and its base
    URL once /healthz answers (or ``wait`` seconds passed)."""
    port = _free_port()
    with log.open("wb") if log is not None else open(os.devnull, "wb") as out:
        server = subprocess.Popen([SIYU, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1.0).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server, base


def _siyu(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([SIYU, *args], env=env, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0 and "exists" not in (done.stderr + done.stdout):
        raise SystemExit(f"siyu {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


def _samples(url: str, secret: str) -> dict[str, Any]:
    """Pick the entities the pages are measured on: the busiest customer, a typical one, a phone…"""
    engine = create_engine(url)
    vault = PiiVault(secret)
    with engine.connect() as c:
        busiest = c.execute(text(
            "SELECT i.customer_id FROM events e JOIN identities i ON i.id = e.identity_id "
            "WHERE e.id > (SELECT MAX(id) FROM events) - 200000 GROUP BY i.customer_id ORDER BY COUNT(*) DESC "
            "LIMIT 1")).scalar_one()
        typical = c.execute(text("SELECT id FROM customers WHERE merged_into_id IS NULL "
                                 "AND id >= (SELECT MAX(id) FROM customers) / 2 ORDER BY id LIMIT 1")).scalar_one()
        phone_enc = c.execute(text("SELECT value_enc FROM identities WHERE kind = 'phone' AND customer_id = :c"),
                              {"c": typical}).scalar() or c.execute(text(
                                  "SELECT value_enc FROM identities WHERE kind = 'phone' LIMIT 1")).scalar_one()
        staff_id, staff_userid, external = c.execute(text(
            "SELECT s.id, s.userid, i.value FROM ownerships o JOIN staff s ON s.id = o.staff_id "
            "JOIN identities i ON i.id = o.identity_id WHERE o.removed_at IS NULL AND i.kind = 'external_userid' "
            "AND s.status = 'active' ORDER BY o.id DESC LIMIT 1")).one()
        busiest_staff = c.execute(text("SELECT staff_id FROM ownerships WHERE removed_at IS NULL GROUP BY staff_id "
                                       "ORDER BY COUNT(*) DESC LIMIT 1")).scalar_one()
        code = c.execute(text("SELECT id FROM channel_codes ORDER BY id LIMIT 1")).scalar_one()
        group = c.execute(text("SELECT id FROM customer_groups ORDER BY id LIMIT 1")).scalar_one()
        tag = c.execute(text("SELECT name FROM tags ORDER BY id LIMIT 1")).scalar()
        busiest_userid = c.execute(text("SELECT userid FROM staff WHERE id = :s"), {"s": busiest_staff}).scalar_one()
        chat = c.execute(text("SELECT g.chat_id FROM customer_groups g JOIN group_memberships m ON m.group_id = g.id "
                              "GROUP BY g.id ORDER BY COUNT(*) DESC LIMIT 1")).scalar()
        last = c.execute(text("SELECT MAX(placed_at) FROM orders")).scalar()
    engine.dispose()
    last_day = date.fromisoformat(str(last)[:10]) - timedelta(days=1) if last else date.today()
    return {"busiest": busiest, "typical": typical, "phone": vault.decrypt(phone_enc), "staff_id": staff_id,
            "staff_userid": staff_userid, "external_userid": external, "busiest_staff": busiest_staff,
            "code": code, "group": group, "tag": tag, "busiest_userid": busiest_userid, "chat": chat,
            "first": (last_day - timedelta(days=29)).isoformat(), "last": last_day.isoformat(),
            "year": (last_day - timedelta(days=365)).isoformat()}


def _activity(s: dict[str, Any], kind: str, **narrowing: str) -> str:
    """Return the customers list filtered like a dashboard link over the 30 days that end with the store's data."""
    start = "" if kind == "connected" else f"&activity_from={s['first']}"
    extra = "".join(f"&activity_{k}={v}" for k, v in narrowing.items())
    return f"/customers?activity={kind}{start}&activity_to={s['last']}{extra}"


def _pages(s: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return (label, user, path) of every page measured."""
    pages = [
        ("dashboard", "admin", "/dashboard"),
        ("customers list", "admin", "/customers"),
        ("customers: search by phone", "admin", f"/customers?q={s['phone']}"),
        ("customers: filter by owner", "admin", f"/customers?owner={s['staff_userid']}"),
        ("customers: filter by channel code", "admin", f"/customers?channel_code={s['code']}"),
        ("customer 360 (busiest)", "admin", f"/customers/{s['busiest']}"),
        ("customer 360 (typical)", "admin", f"/customers/{s['typical']}"),
        ("channel codes", "admin", "/channel-codes"),
        ("channel code", "admin", f"/channel-codes/{s['code']}"),
        ("staff", "admin", "/staff"),
        ("staff member (busiest)", "admin", f"/staff/{s['busiest_staff']}"),
        ("groups", "admin", "/groups"),
        ("group", "admin", f"/groups/{s['group']}"),
        ("identity review", "admin", "/identity/review"),
        ("audit log", "admin", "/audit"),
        ("staff sidebar", "staff", f"/sidebar/customer?external_userid={s['external_userid']}"),
        ("customers list as staff", "staff", "/customers"),
        # the dashboard over the store's last 30 days of data and over a year, and the lists its figures open
        ("dashboard: 30 days of data", "admin", f"/dashboard?from={s['first']}&to={s['last']}"),
        ("dashboard: 366 days", "admin", f"/dashboard?from={s['year']}&to={s['last']}"),
        ("link: in the private domain", "admin", _activity(s, "connected")),
        ("link: entered", "admin", _activity(s, "entered")),
        ("link: lost", "admin", _activity(s, "lost")),
        ("link: added the busiest staff", "admin", _activity(s, "contact_added", staff=s["busiest_userid"])),
        ("link: deleted the busiest staff", "admin", _activity(s, "contact_deleted", staff=s["busiest_userid"])),
        ("link: added through a code", "admin", _activity(s, "contact_added", code=str(s["code"]))),
        ("link: left the biggest group", "admin", _activity(s, "group_left", group=s["chat"] or "")),
        ("link: active", "admin", _activity(s, "active")),
        ("link: ordered", "admin", _activity(s, "ordered")),
        ("link: repurchased", "admin", _activity(s, "repurchased")),
    ]
    if s["tag"]:
        pages.insert(4, ("customers: filter by tag", "admin", f"/customers?tag={s['tag']}"))
    return pages


def _login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60.0, follow_redirects=False)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    data = {"username": username, "password": PASSWORD, "next": "/"}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/login", data=data)
    if response.status_code not in (302, 303):
        raise SystemExit(f"login as {username} failed: {response.status_code}")
    return client


def _cpu_ms(pid: int) -> float:
    """Return the CPU time of every thread of process ``pid`` so far, in ms (Linux; NaN elsewhere)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except OSError:  # a thread that ended
            pass
    return total / 1e6 if total else float("nan")


def _measure(client: httpx.Client, path: str, n: int, pid: int) -> tuple[list[float], list[float], int, float]:
    """Request ``path`` once, then ``n`` times; return server and wall ms, the status and server CPU ms a request."""
    client.get(path)  # warm-up
    server, wall = [], []
    status = 0
    cpu = _cpu_ms(pid)
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        status = response.status_code
        server.append(float(response.headers.get("server-timing", "app;dur=nan").partition(";dur=")[2]))
    return server, wall, status, (_cpu_ms(pid) - cpu) / n


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def main() -> None:
    """Serve the store, log in, time every page and print p50/p95 per page."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--secret-key", default=os.environ.get("SIYU_SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789"))
    parser.add_argument("--customers", type=int, default=20_000, help="build a store of this size when no URL is given")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'console.db'}"
    env = {**os.environ, "SIYU_DATABASE_URL": url, "SIYU_SECRET_KEY": args.secret_key, "SIYU_DATA_DIR": tmp.name,
           "SIYU_LOG_LEVEL": "warning"}
    if not args.database_url:
        _siyu(env, "demo", "--customers", str(args.customers), "--seed", "42", "--until", "2026-11-01", "--reset",
              "--no-progress")
    samples = _samples(url, args.secret_key)
    _siyu(env, "user", "create", "bench_admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    _siyu(env, "user", "create", "bench_staff", "--role", "staff", "--staff", samples["staff_userid"],
          "--password-stdin", stdin=PASSWORD + "\n")
    server, base = _serve(env)
    try:
        clients = {"admin": _login(base, "bench_admin"), "staff": _login(base, "bench_staff")}
        print(f"console page times on {url.rsplit('/', 1)[-1]} ({os.cpu_count()} CPUs, {args.requests} requests "
              f"per page after one warm-up; load average {os.getloadavg()[0]:.2f})")
        print("  the server's background loops (unset: default): " + ", ".join(
            f"{name}={os.environ.get(name, '')}" for name in BACKGROUND))
        print(f"  {'page':<36} {'status':>6} {'server p50':>11} {'server p95':>11} {'wall p95':>9} {'CPU/req':>8}")
        worst = 0.0
        for label, who, path in _pages(samples):
            server_ms, wall_ms, status, cpu = _measure(clients[who], path, args.requests, server.pid)
            p95 = _p95(server_ms)
            worst = max(worst, p95)
            print(f"  {label:<36} {status:>6} {statistics.median(server_ms):>9.1f}ms {p95:>9.1f}ms "
                  f"{_p95(wall_ms):>7.1f}ms {cpu:>6.1f}ms{'  over target' if p95 > TARGET_MS else ''}")
        print(f"  slowest page p95: {worst:.1f} ms (target {TARGET_MS:.0f} ms)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
