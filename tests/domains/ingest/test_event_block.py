"""An events CSV imported through the column block stores exactly what the per-item path stores.

Each case imports a sequence of generated files (repeats within a file and across files, known and
unknown identities in one chunk, merges and unique-kind conflicts caused mid-chunk, junk values,
types other domains handle, rejected rows, a re-import) twice on a fresh database: once with every
row as a per-item fact written by ``service.write_events`` (the path before the block existed), once
as ``siyu import`` does it. Every table, the import summaries and the rejects files must be equal.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from domains.identity.helpers import wipe
from domains.ingest.paths import compare_paths, write_csv
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from siyu.cli import import_files
from siyu.domains.identity import resolver as resolver_module
from siyu.domains.ingest import event_block, service
from siyu.domains.ingest.columns import prepare_event_columns
from siyu.domains.ingest.event_block import EventBlock

HEADER = ["event_id", "type", "occurred_at", "channel", "id.openid:wx1", "id.unionid", "id.phone", "prop.topic",
          "properties"]
OPENIDS = ["", "oAAAA01", "oAAAA02", "oAAAA03", "oAAAA04", "oAAAA05", "undefined"]
UNIONIDS = ["", "uBBBB01", "uBBBB02", "uBBBB03", "null"]
PHONES = ["", "13912340001", "13912340002", "+86 139-1234-0003", "0", "12345"]
TYPES = [("content_viewed", ""), ("content_viewed", ""), ("page_viewed", '{"depth": 2}'), ("acme.quiz_done", ""),
         ("group_joined", '{"chat_id": "g1"}'), ("group_left", '{"chat_id": "g1"}'),
         ("consent_granted", '{"channel": "sms"}'), ("consent_withdrawn", '{"channel": "sms"}'),
         ("contact_added", ""), ("contact_added", '{"state": "nosuchstate"}'), ("bogus type", ""),
         ("content_viewed", "{broken")]
TIMES = ["1767225600", "1767225600123", "2026-01-01T10:00:00+08:00", "2026-01-01 10:00:00.5Z", "yesterday"]


def _row(rng: random.Random, n_ids: int) -> list[str]:
    kind, props = rng.choice(TYPES)
    return [f"e{rng.randrange(n_ids)}", kind, rng.choice(TIMES), rng.choice(["", "app", "mini_program"]),
            rng.choice(OPENIDS), rng.choice(UNIONIDS), rng.choice(PHONES), rng.choice(["", "茶", "咖啡"]), props]


def _write(path: Path, rows: list[list[str]]) -> Path:
    return write_csv(path, HEADER, rows)


def _per_item_only(ctx, cols, rows):
    """The import before the block: every row a per-item fact."""
    return prepare_event_columns(ctx, cols, rows), EventBlock.empty(())


def _old_path(m: pytest.MonkeyPatch) -> None:
    m.setattr(import_files, "prepare_event_block", _per_item_only)
    m.setattr("siyu.cli.import_cmds.WRITE", {"events": service.write_events})


def _compare(engine, settings, monkeypatch, files: list[Path], chunk: int, parallel: bool = False,
             busy: bool = True) -> None:
    _, reference = compare_paths("events", engine, settings, monkeypatch, files, chunk, parallel, _old_path)
    if busy:  # the case exercised merges, review items and stored events
        assert reference["events"] and reference["merges"] and reference["identity_issues"]


@pytest.mark.parametrize("seed", [1, 2])
def test_block_stores_what_the_per_item_path_stores(db_engine, settings, tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    first = _write(tmp_path / "a.csv", [_row(rng, 120) for _ in range(150)])
    second = _write(tmp_path / "b.csv", [_row(rng, 240) for _ in range(150)])
    _compare(db_engine, settings, monkeypatch, [first, second, first], chunk=[7, 40][seed - 1])


def test_block_with_the_reader_process(db_engine, settings, tmp_path, monkeypatch):
    rng = random.Random(3)
    files = [_write(tmp_path / f"{n}.csv", [_row(rng, 200) for _ in range(120)]) for n in range(2)]
    _compare(db_engine, settings, monkeypatch, [*files, files[0]], chunk=25, parallel=True)


def test_identity_created_mid_chunk_anchors_later_rows(db_engine, settings, tmp_path, monkeypatch):
    rows = [["e1", "content_viewed", "1767225600", "", "oNEW0001", "", "", "", ""],  # creates oNEW0001
            ["e2", "content_viewed", "1767225601", "", "oNEW0001", "uNEW0001", "", "", ""],  # adds a unionid
            ["e3", "content_viewed", "1767225602", "", "oNEW0001", "", "", "", ""],  # now a known identity
            ["e4", "content_viewed", "1767225603", "", "oOLD0001", "", "", "", ""],  # chunk 2: known, before the merge
            ["e5", "content_viewed", "1767225604", "", "oOLD0001", "uNEW0001", "", "", ""],  # merges two customers
            ["e6", "content_viewed", "1767225605", "", "oOLD0001", "", "", "", ""],  # anchored after the merge
            ["e7", "content_viewed", "1767225606", "", "oOLD0001", "", "13912340008", "", ""],  # a second phone: review
            ["e8", "content_viewed", "1767225607", "", "oNEW0001", "null", "", "", ""]]  # junk: review
    seed = _write(tmp_path / "seed.csv", [["e0", "content_viewed", "1767225000", "", "oOLD0001", "", "13912340009",
                                           "", ""]])
    _compare(db_engine, settings, monkeypatch, [seed, _write(tmp_path / "mid.csv", rows)], chunk=3)


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=20, max_size=60), st.integers(1, 30))
def test_block_equals_per_item_on_generated_files(db_engine, settings, tmp_path, monkeypatch, seeds, chunk):
    wipe(db_engine)
    rows = [_row(random.Random(s), 40) for s in seeds]
    path = _write(tmp_path / "h.csv", rows)
    more = _write(tmp_path / "h2.csv", [_row(random.Random(s + 1), 60) for s in seeds])
    _compare(db_engine, settings, monkeypatch, [path, more, path], chunk=chunk, busy=False)


def _mostly_new(rng: random.Random, count: int, start: int) -> list[list[str]]:
    """Rows of a first-time file: most people appear once with new identities; some come back with another
    person's identity (merges, unique-kind conflicts), some use a few known ones."""
    rows: list[list[str]] = []
    for n in range(start, start + count):
        kind, props = rng.choice(TYPES[:4] * 6 + TYPES)  # mostly plain events, some of every kind
        ids = [f"oNEW{n:05d}", f"uNEW{n:05d}", f"1391000{n:04d}"]
        ids = [v if rng.random() < 0.6 else "" for v in ids]
        alone = [r[4] for r in rows if r[4] and not r[5] and not r[6]]  # customers holding no unique kind
        unions = [r[5] for r in rows if r[5]]
        if alone and unions and rng.random() < 0.25:  # back, with another person's unionid: a merge or a conflict
            ids = [rng.choice(alone) if rng.random() < 0.7 else rng.choice(rows)[4], rng.choice(unions), ""]
        elif rows and rng.random() < 0.3:  # the same person again, some of their identities (the chunk may hold both)
            again = rows[-rng.randrange(1, min(len(rows), 12) + 1)][4:7]
            ids = [v if rng.random() < 0.6 else "" for v in again]
        elif rng.random() < 0.1:
            ids = [rng.choice(OPENIDS[1:]), rng.choice(UNIONIDS), rng.choice(PHONES)]
        rows.append([f"n{n}", kind, rng.choice(TIMES[:4]), rng.choice(["", "app"]), *ids, "", props])
    return rows


@pytest.mark.parametrize("seed", [4, 5])
def test_rows_of_new_people_written_from_columns_equal_the_resolver(db_engine, settings, tmp_path, monkeypatch,
                                                                     seed):
    rng = random.Random(seed)
    written: list[int] = []
    followed: list[int] = []
    real, real_fresh = resolver_module.fresh_rows, event_block.fresh_facts

    def spy(fresh, *args):
        written.append(len(fresh))
        return real(fresh, *args)

    def spy_fresh(*args):
        fresh, again = real_fresh(*args)
        followed.append(len(again))
        return fresh, again

    monkeypatch.setattr(resolver_module, "fresh_rows", spy)
    monkeypatch.setattr(event_block, "fresh_facts", spy_fresh)
    seed_file = _write(tmp_path / "seed.csv", [["s1", "content_viewed", "1767225000", "", "oAAAA01", "", "13912340001",
                                                "", ""]])
    files = [_write(tmp_path / f"{k}.csv", _mostly_new(rng, 200, 200 * k)) for k in (1, 2)]
    _compare(db_engine, settings, monkeypatch, [seed_file, *files, files[0]], chunk=[30, 64][seed - 4])
    assert sum(written) > 100  # most rows took the column path, among merges, conflicts and junk in their chunks
    assert sum(followed) >= 5  # … and people seen again later in the chunk that created them
