"""Measure the mirror's incremental sync after a small batch of new events, against a whole copy.

Reproduce (the issue-4 store of docs/PERFORMANCE.md; the store's secret key is needed to ingest):
  SIYU_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 .venv/bin/python benchmarks/bench_mirror_sync.py \
      --database-url sqlite:////work/data-50m/siyu.db --data-dir /work/data-50m [--events 1000] [--repeats 5]

Each round ingests ``--events`` events through the ingestion service (page views on existing
customers' mini-program and WeCom identities; ``--links`` of them name two customers' identities, so
the resolver merges them and the sync must move those identities' facts), then times the sync that
brings the mirror up to date. Once, for reference, it times a sync that copies the identity map, live
customers and follow relations whole (what every sync did before layout 4). The store keeps what was
ingested: event ids ``bench-sync-<time>-<n>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from siyu.analytics import mirror
from siyu.config import get_settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.domains.ingest import service as ingest


def _identities(store: Any, kind_like: str, n: int, offset: int) -> list[tuple[str, str]]:
    """Return (kind, value) of ``n`` stored identities of a plaintext kind, spread over the id range."""
    with store.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM identities")).scalar_one()
        step = max(1, top // (n * 4))
        rows = conn.execute(text("SELECT kind, value FROM identities WHERE kind LIKE :k AND value IS NOT NULL "
                                 "AND (id + :o) % :s = 0 LIMIT :n"), {"k": kind_like, "o": offset, "s": step, "n": n})
        return [(k, v) for k, v in rows]


def _batch(store: Any, n: int, links: int, round_no: int) -> list[dict[str, Any]]:
    stamp, now = int(time.time()), datetime.now(UTC).isoformat()
    minis = _identities(store, "openid:%", n, round_no)
    wecom = _identities(store, "external_userid", links, round_no + 7)
    items = []
    for i, (kind, value) in enumerate(minis[:n]):
        idents = {kind: value}
        if i < len(wecom):  # names another customer's WeCom identity too: the resolver merges the two
            idents[wecom[i][0]] = wecom[i][1]
        items.append({"event_id": f"bench-sync-{stamp}-{round_no}-{i}", "type": "page_viewed", "occurred_at": now,
                      "identities": idents, "channel": "mini_program", "properties": {"page": "home"}})
    return items


def main() -> None:
    """Ingest small batches and time the incremental sync after each; time one whole copy for reference."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    store, path = make_engine(args.database_url), mirror.mirror_path(args.data_dir)
    ctx = ingest.IngestContext.from_settings(get_settings())
    print(f"Mirror sync benchmark (2 CPUs; load average {os.getloadavg()[0]:.2f}) on {args.database_url}")
    first = mirror.sync(store, path)
    print(f"  bring up to date: {first.seconds:6.2f} s  {first.rows}")
    idle = [mirror.sync(store, path).seconds for _ in range(3)]
    print(f"  nothing new: median {statistics.median(idle):.3f} s ({' · '.join(f'{t:.3f}' for t in idle)})")
    times = []
    for round_no in range(args.repeats):
        items = _batch(store, args.events, args.links, round_no)
        with unit_of_work(store) as session:
            result = ingest.ingest_events(session, ctx, items)
        synced = mirror.sync(store, path)
        times.append(synced.seconds)
        print(f"  round {round_no + 1}: {len(items)} events ingested ({result.accepted} accepted), "
              f"sync {synced.seconds:.3f} s  {synced.rows}", flush=True)
    whole = mirror.sync(store, path, whole=True)
    print(f"  whole copy of identities, customers and relations (reference): {whole.seconds:.2f} s  {whole.rows}")
    print(f"  incremental sync after {args.events} events: median {statistics.median(times):.3f} s "
          f"({' · '.join(f'{t:.3f}' for t in times)}); load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
