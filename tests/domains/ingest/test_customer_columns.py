"""A customers CSV imported through the column path stores exactly what the per-item path stores.

Each case imports a sequence of generated files (records repeating people within and across files,
several identities that merge customers or meet a unique-kind conflict mid-chunk, junk values,
owners, attributes from cells and a JSON column, fields the column path declines: surrounding
spaces, over-long values, bad genders, birthdays and times, broken JSON) twice on a fresh database:
once with every row validated per item (pydantic) and names sealed by the profile write, as before
the column path, once as ``siyu import`` does it. Every table, the import summaries and the rejects files must be equal.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from domains.identity.helpers import wipe
from domains.ingest.paths import compare_paths, write_csv
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import text

from siyu.cli import import_files
from siyu.cli.import_cmds import run_import
from siyu.cli.import_files import CsvMapper
from siyu.domains.customers import service as customers
from siyu.domains.identity.resolver import Resolver
from siyu.domains.ingest.customer_block import CustomerBlock
from siyu.domains.ingest.customer_columns import prepare_customer_block, prepare_customer_columns
from siyu.domains.ingest.customers import customer_outcome
from siyu.domains.ingest.service import IngestContext
from siyu.kit.crypto import PiiVault

HEADER = ["id.phone", "id.unionid", "id.openid:wx1", "name", "gender", "birthday", "region", "city", "owner_userid",
          "occurred_at", "attr.level", "attributes"]
# per column: values the column path takes, then values it declines (or that are refused): drawn 1 time in 12
PHONES = (["", "13912340001", "13912340002", "+86 139-1234-0003", "13912340004"], ["0", "12345"])
UNIONIDS = (["", "uCCCC01", "uCCCC02", "uCCCC03"], ["null", " uCCCC04", "uC5"])
OPENIDS = (["", "oCCCC01", "oCCCC02", "oCCCC03"], ["undefined"])
NAMES = (["", "张三", "李四", "Ann  Lee", "王" * 64, "ｱｲ"], ["王" * 65, " 赵六"])
GENDERS = (["", "male", "female", "unknown"], ["Male", "other"])
BIRTHDAYS = (["", "1990-05-17", "1900-01-01"], ["1899-12-31", "2001-02-29", "2999-01-01", "19900517", "1990-5-17"])
PLACES = (["", "上海", "浙江"], ["x" * 33, "北京 "])
OWNERS = (["", "", "staff01", "staff02"], ["s" * 65])
TIMES = (["", "1767225600", "1767225600123", "2026-01-01T10:00:00+08:00", "2026-01-01 10:00:00Z"], ["yesterday"])
LEVELS = (["", "gold", "silver"], [])
ATTRIBUTES = (["", "", '{"vip": true}', '{"level": "bronze", "n": 3}'], ["{broken", "[1, 2]", '{" k": 1}'])
COLUMNS = [PHONES, UNIONIDS, OPENIDS, NAMES, GENDERS, BIRTHDAYS, PLACES, PLACES, OWNERS, TIMES, LEVELS, ATTRIBUTES]


def _row(rng: random.Random) -> list[str]:
    row = [rng.choice(bad if bad and rng.random() < 1 / 12 else good) for good, bad in COLUMNS]
    if rng.random() < 0.03:
        row = row[:-2]  # a short row: refused while reading
    return row


def _write(path: Path, rows: list[list[str]]) -> Path:
    return write_csv(path, HEADER, rows)


def _old_path(m: pytest.MonkeyPatch) -> None:
    m.setattr(import_files, "prepare_customer_block", lambda _ctx, _cols, rows: ([None] * len(rows), CustomerBlock.empty(())))
    m.setattr(customers, "seal_name", lambda _vault, raw: raw)  # names sealed by the writer, as before


def _compare(engine, settings, monkeypatch, files: list[Path], chunk: int, parallel: bool = False,
             busy: bool = True) -> None:
    before, reference = compare_paths("customers", engine, settings, monkeypatch, files, chunk, parallel, _old_path)
    if busy:  # the case exercised merges, review items, owners and profiles
        assert reference["merges"] and reference["identity_issues"] and reference["ownerships"]
        assert any(summary[3] for summary in before) and reference["customers"]  # rows rejected, customers written


def _opened(vault: PiiVault, outcome: Any) -> Any:
    """Return an outcome with a sealed name decrypted (each encryption draws a fresh nonce)."""
    fact, norm, profile = outcome
    name = profile.get("name")
    if isinstance(name, customers.SealedName):
        profile = {**profile, "name": (vault.decrypt(name.name_enc), name.name_idx, name.name_masked)}
    return fact, norm, profile


def test_column_path_accepts_what_the_per_item_path_accepts(settings):
    """The column path declines only what it must: clean rows leave it as the per-item path's outcome."""
    ctx = IngestContext.from_settings(settings)
    mapper = CsvMapper("customers", HEADER)
    rows = [_row(random.Random(s)) for s in range(400)]
    rows = [r for r in rows if len(r) == len(HEADER)]
    fast = prepare_customer_columns(ctx, mapper.customer_columns(), rows)
    taken = sealed = 0
    vault = PiiVault(settings.effective_secret_key)
    for row, done in zip(rows, fast, strict=True):
        if done is not None:
            taken += 1
            sealed += isinstance(done[2].get("name"), customers.SealedName)
            assert _opened(vault, done) == _opened(vault, customer_outcome(ctx, mapper(row))), row
    assert taken > 20 and sealed > 5


@pytest.mark.parametrize("seed", [1, 2])
def test_column_path_stores_what_the_per_item_path_stores(db_engine, settings, tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    first = _write(tmp_path / "a.csv", [_row(rng) for _ in range(150)])
    second = _write(tmp_path / "b.csv", [_row(rng) for _ in range(150)])
    _compare(db_engine, settings, monkeypatch, [first, second, first], chunk=[7, 40][seed - 1])


def test_column_path_with_the_reader_process(db_engine, settings, tmp_path, monkeypatch):
    rng = random.Random(3)
    files = [_write(tmp_path / f"{n}.csv", [_row(rng) for _ in range(120)]) for n in range(2)]
    _compare(db_engine, settings, monkeypatch, [*files, files[0]], chunk=25, parallel=True)


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=20, max_size=60), st.integers(1, 30))
def test_column_path_equals_per_item_on_generated_files(db_engine, settings, tmp_path, monkeypatch, seeds, chunk):
    wipe(db_engine)
    path = _write(tmp_path / "h.csv", [_row(random.Random(s)) for s in seeds])
    more = _write(tmp_path / "h2.csv", [_row(random.Random(s + 1)) for s in seeds])
    _compare(db_engine, settings, monkeypatch, [path, more, path], chunk=chunk, busy=False)


def test_block_rows_over_known_people_skip_the_resolver(db_engine, settings, tmp_path, monkeypatch):
    """Records whose identities all sit on one stored customer are anchored from the look-up (the resolver sees only
    the others), and the store still ends up as the per-item path leaves it: profiles folded per person in file
    order, owners opened once, a merge mid-chunk followed to the survivor."""
    people = [[f"1391234{n:04d}", f"uK{n:04d}", "", f"客户{n}", "female", "", "", "上海", "staff01", "", "gold", ""]
              for n in range(30)]
    first = _write(tmp_path / "people.csv", people)
    again = [[phone, union, "", f"新{name}", "", "1990-05-17", "浙江", "", "staff02" if n % 3 else "", "",
              "silver", '{"vip": true}'] for n, (phone, union, _o, name, *_r) in enumerate(people)]
    again.insert(10, ["13912340003", "uK0007", "", "", "", "", "", "", "", "", "", ""])  # 3 and 7: a unique-kind conflict
    again.insert(20, ["", "uK0011", "oK0011", "改名", "", "", "", "", "", "", "", ""])  # a new identity of a known person
    second = _write(tmp_path / "again.csv", again)
    sizes: list[tuple[int, int]] = []
    real = Resolver.resolve_with_fresh
    monkeypatch.setattr(Resolver, "resolve_with_fresh", lambda self, facts, known, fresh: sizes.append(
        (len(facts), len(fresh) if fresh else 0)) or real(self, facts, known, fresh))
    _compare(db_engine, settings, monkeypatch, [first, second, second], chunk=40, busy=False)
    block_run = sizes[len(sizes) // 2:]  # the second half: siyu import's path (the per-item run came first)
    # new people as columns; the conflict and the new identity; the conflict again
    assert block_run == [(0, len(people)), (2, 0), (1, 0)]


def test_block_holds_the_plain_records(settings):
    """A chunk's clean records travel as columns (names sealed, no per-row objects); junk and raw names do not."""
    ctx = IngestContext.from_settings(settings)
    mapper = CsvMapper("customers", HEADER)
    rows = [r for r in (_row(random.Random(s)) for s in range(300)) if len(r) == len(HEADER)]
    fast, block = prepare_customer_block(ctx, mapper.customer_columns(), rows)
    plain = [j for j, done in enumerate(fast) if type(done) is int]
    items = [done for done in fast if type(done) is tuple]
    assert len(block) == len(plain) > 50 and items  # both kinds in one chunk
    assert all(not norm.junk for _r, norm, _p in items) is False  # junk rows stay per item
    assert set(block.profile) <= {"name_enc", "name_idx", "name_masked", "gender", "birthday", "region", "city",
                                  "attributes"}
    vault = PiiVault(settings.effective_secret_key)
    for j, row in zip(plain, range(len(block))):
        fact, norm, profile = customer_outcome(ctx, mapper(rows[j]))
        assert block.owner[row] == fact.owner_userid and block.occurred_at[row] == fact.occurred_at
        assert [(k, lk) for k, col in zip(block.kinds, block.lookups) if (lk := col[row])] == \
            [(kind, lookup) for _s, kind, _v, lookup in norm.items]
        sealed = [block.profile.get(c, [None] * len(block))[row] for c in ("name_enc", "name_idx", "name_masked")]
        want = profile.get("name")
        assert ([vault.decrypt(sealed[0]), *sealed[1:]] if sealed[0] else None) == \
            ([vault.decrypt(want.name_enc), want.name_idx, want.name_masked] if want else None)
        for field in ("gender", "birthday", "region", "city", "attributes"):
            assert block.profile.get(field, [None] * len(block))[row] == profile.get(field), field


def test_unchanged_profile_columns_are_not_rewritten(db_engine, settings, tmp_path):
    """Importing the same records again rewrites no profile column (a name keeps its ciphertext) but still moves
    ``updated_at``, as the per-item path does; a changed value is written."""
    rows = [["13912340001", "", "", "张三", "female", "1990-05-17", "浙江", "杭州", "", "", "gold", '{"vip": true}']]
    path = _write(tmp_path / "one.csv", rows)

    def stored() -> tuple[Any, ...]:
        with db_engine.connect() as conn:
            return conn.execute(text("SELECT name_enc, name_idx, gender, birthday, region, city, attributes, updated_at "
                                     "FROM customers")).one()

    run_import("customers", path, eng=db_engine, settings=settings)
    first = stored()
    run_import("customers", path, eng=db_engine, settings=settings)
    again = stored()
    assert again[:7] == first[:7] and again[7] > first[7]
    rows[0][3], rows[0][7] = "李四", "宁波"
    run_import("customers", _write(tmp_path / "two.csv", rows), eng=db_engine, settings=settings)
    changed = stored()
    assert changed[0] != first[0] and changed[1] != first[1] and changed[5] == "宁波" and changed[2:5] == first[2:5]
    assert PiiVault(settings.effective_secret_key).decrypt(changed[0]) == "李四"
