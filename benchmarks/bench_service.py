"""Measure the service processing: inbound messages answered by rules/FAQ or handed off, per second.

Reproduce:
  .venv/bin/python benchmarks/bench_service.py [--messages 10000] [--database-url URL]

Builds a fresh store (a temporary SQLite file unless ``--database-url`` names an empty migrated
database): 20 staff members, 2,000 customers each followed by one, 300 keyword rules (240 contains,
30 fuzzy, 30 regex), 200 FAQs of three phrasings, then ``--messages`` ``message_received`` events
(half hitting a rule or an FAQ, half handed off) and one staff reply per three messages. It times
:func:`siyu.domains.service.process_new` over all of them (batches of 1,000, one transaction each)
and, as the same-run reference, the decisions alone (``Responder.decide`` on the same texts, no
store), so the ratio is what the store's work costs on top of matching.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.domains.customers.models import Customer
from siyu.domains.events.models import Event
from siyu.domains.identity.models import Identity
from siyu.domains.service import process_new
from siyu.domains.service import service as svc
from siyu.domains.staff.models import Ownership, Staff
from siyu.kit.time import utcnow

SH = ZoneInfo("Asia/Shanghai")
HANZI = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"


def _words(rng: random.Random, n: int, size: int) -> list[str]:
    return list(dict.fromkeys("".join(rng.choice(HANZI) for _ in range(size)) for _ in range(n * 2)))[:n]


def build(engine, rng: random.Random, messages: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Fill the store; return the message texts in order."""
    now = utcnow() - timedelta(days=1)
    keywords, faq_words = _words(rng, 300, 2), _words(rng, 600, 3)
    with unit_of_work(engine) as s:
        s.execute(insert(Staff), [{"userid": f"s{i}", "name": f"员工{i}", "created_at": now} for i in range(20)])
        s.execute(insert(Customer), [{"first_seen_at": now, "created_at": now, "updated_at": now, "attributes": {}}
                                     for _ in range(2000)])
        s.execute(insert(Identity), [{"kind": "external_userid", "lookup": f"l{i}", "value": f"wm{i}", "masked": "wm*",
                                      "customer_id": i + 1, "origin_customer_id": i + 1, "cause_type": "import",
                                      "cause_ref": "bench", "created_at": now} for i in range(2000)])
        s.execute(insert(Ownership), [{"identity_id": i + 1, "staff_id": i % 20 + 1, "source": "import",
                                       "added_at": now} for i in range(2000)])
        for i, word in enumerate(keywords):
            kind = "contains" if i < 240 else ("fuzzy" if i < 270 else "regex")
            pattern = word if kind != "regex" else f"{word}[0-9]{{3,}}"
            svc.create_rule(s, name=f"r{i}", match_type=kind, patterns=[pattern], reply=f"回复{i}",
                            priority=i % 7, actor="bench")
        for i in range(200):
            a, b, c = faq_words[3 * i: 3 * i + 3]
            svc.create_faq(s, question=f"{a}{b}怎么办", answer=f"答案{i}", alternatives=[f"{b}{c}", f"{a}{c}吗"],
                           actor="bench")
    texts = []
    for i in range(messages):
        if i % 4 == 0:
            texts.append(f"请问{rng.choice(keywords[:240])}可以吗")
        elif i % 4 == 1:
            j = rng.randrange(200)
            texts.append(f"{faq_words[3 * j]}{faq_words[3 * j + 1]}怎么弄")
        else:
            texts.append("".join(rng.choice(HANZI) for _ in range(rng.randint(4, 30))))
    rows = []
    for i, text in enumerate(texts):
        at = now + timedelta(seconds=10 * i)
        cust = rng.randrange(2000)
        rows.append({"event_id": f"in{i}", "type": "message_received", "occurred_at": at, "received_at": at,
                     "identity_id": cust + 1, "channel": "wecom",
                     "properties": {"text": text, "staff_userid": f"s{cust % 20}"}})
        if i % 3 == 0:
            rows.append({"event_id": f"out{i}", "type": "message_sent", "occurred_at": at + timedelta(minutes=5),
                         "received_at": at, "identity_id": cust + 1, "channel": "wecom",
                         "properties": {"text": "您好", "staff_userid": f"s{cust % 20}"}})
    with unit_of_work(engine) as s:
        for k in range(0, len(rows), 5000):
            s.execute(insert(Event), rows[k:k + 5000])
    return texts


def main() -> None:
    """Build, process, print events/s beside the matching-only reference."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="siyu-bench-service-"))
    engine = make_engine(args.database_url or f"sqlite:///{tmp / 'siyu.db'}")
    if not args.database_url:
        upgrade(engine)
    texts = build(engine, random.Random(7), args.messages)
    with unit_of_work(engine, write=False) as s:
        responder = svc.responder(s, tmp)
    start = time.perf_counter()
    kinds: dict[str, int] = {}
    for text in texts:
        kind = responder.decide(text).kind
        kinds[kind] = kinds.get(kind, 0) + 1
    decide_s = time.perf_counter() - start
    start, events = time.perf_counter(), 0
    while True:
        with unit_of_work(engine) as s:
            out = process_new(s, data_dir=tmp, tz=SH)
        events += out.events
        if not out.events:
            break
    process_s = time.perf_counter() - start
    print(f"decisions: {kinds}")
    print(f"reference (decide only): {len(texts) / decide_s:,.0f} messages/s ({decide_s:.2f} s)")
    print(f"process_new: {events:,} events in {process_s:.2f} s = {events / process_s:,.0f} events/s, "
          f"{len(texts) / process_s:,.0f} inbound messages/s; ratio to the reference {process_s / decide_s:.1f}x")


if __name__ == "__main__":
    main()
