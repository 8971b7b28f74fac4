"""Mass messages: preview and send to a segment of N customers, each followed by one of 50 staff members.

Builds a fresh store (SQLite file, or ``--postgres URL``), then times: the preview (recipients, owners,
opt-outs, consent, caps), and the send (render the item per customer with a tracked link, record the
sends and links, enqueue one outbox message each, one confirmation task per staff member). As a
same-run reference it times a bare ``outbox.enqueue`` of N pre-rendered messages, so the ratio says
what the content work costs on top of the outbox write.

    .venv/bin/python benchmarks/bench_mass.py --customers 20000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime, timezone

from sqlalchemy import insert

from siyu.config import Settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains import mass_messages
from siyu.domains.content.models import ContentItem
from siyu.domains.customers.models import Customer
from siyu.domains.identity.models import Identity
from siyu.domains.mass_messages.schemas import MassIn
from siyu.domains.outbox import NewMessage, enqueue
from siyu.domains.segments import service as segments
from siyu.domains.staff.models import Ownership, Staff

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def build(url: str, n: int) -> None:
    """Create ``n`` customers in 上海 with one identity each, followed round-robin by 50 staff members."""
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine) as s:
        s.execute(insert(Staff), [{"id": i, "userid": f"s{i}", "name": f"导购{i}", "created_at": T0} for i in range(1, 51)])
        s.execute(insert(Customer), [{"id": i, "gender": "unknown", "city": "上海", "attributes": {}, "first_seen_at": T0,
                                      "created_at": T0, "updated_at": T0} for i in range(1, n + 1)])
        s.execute(insert(Identity), [{"id": i, "kind": "external_userid", "lookup": f"l{i}", "value": f"wm{i:08d}",
                                      "masked": "wm***", "customer_id": i, "origin_customer_id": i, "cause_type": "import",
                                      "cause_ref": "bench", "created_at": T0} for i in range(1, n + 1)])
        s.execute(insert(Ownership), [{"identity_id": i, "staff_id": 1 + i % 50, "source": "import", "added_at": T0}
                                      for i in range(1, n + 1)])
        s.add(ContentItem(id=1, kind="text", title="上新", body="{{ name | default('亲') }}，春季上新：{{ link }}",
                          url="https://brand.example/new", created_by="bench", created_at=T0, updated_at=T0))
    engine.dispose()


def main() -> None:
    """Print the preview and send times for one mass message to every customer."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.postgres or f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    settings = Settings(secret_key="b" * 40, env="test", data_dir=tmp, database_url=url)
    build(url, args.customers)
    engine = make_engine(url)
    print(f"mass message to {args.customers} customers on {engine.dialect.name}; load {os.getloadavg()[0]:.2f}")
    with unit_of_work(engine) as s:
        segments.create_segment(s, name="上海", rule={"attribute": "city", "op": "eq", "value": "上海"}, actor="bench",
                                tz=settings.tz)
        mid = mass_messages.create(s, MassIn(name="bench", audience={"segment": "上海"}, channel="wecom",  # type: ignore[arg-type]
                                             content_id=1), actor="bench").id
    started = time.perf_counter()
    with unit_of_work(engine) as s:
        p = mass_messages.preview(s, mid, settings.tz)
    print(f"  preview      {time.perf_counter() - started:6.2f} s  (eligible {p.eligible})")
    started = time.perf_counter()
    with unit_of_work(engine) as s:
        row = mass_messages.send(s, settings, mid, actor="bench")
        sent, tasks = row.recipients, row.tasks
    send_s = time.perf_counter() - started
    print(f"  send         {send_s:6.2f} s  ({sent} messages, {tasks} tasks, {sent / send_s:,.0f} messages/s)")
    started = time.perf_counter()
    with unit_of_work(engine) as s:
        enqueue(s, [NewMessage(idempotency_key=f"ref:{i}", kind="x", channel="wecom", payload={"text": "上新"},
                               customer_id=i, category="marketing") for i in range(1, args.customers + 1)])
    ref_s = time.perf_counter() - started
    print(f"  reference    {ref_s:6.2f} s  (bare outbox.enqueue of the same count; send/reference {send_s / ref_s:.1f}x)")
    print(f"  load after   {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
