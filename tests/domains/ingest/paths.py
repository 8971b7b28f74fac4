"""Shared helpers for the import-path equivalence tests: import files one way and another, compare every table."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from domains.identity.helpers import wipe
from sqlalchemy import Engine, select

from siyu.cli.import_cmds import run_import
from siyu.db.models import metadata
from siyu.kit.crypto import PiiVault
from siyu.kit.time import utcnow


def snapshot(engine: Engine, settings, since: datetime) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in id order: times written during the test (received_at, created_at…) masked,
    encrypted values decrypted (each encryption draws a fresh nonce)."""
    vault = PiiVault(settings.effective_secret_key)
    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            order = [c for c in table.primary_key.columns] or list(table.columns)
            rows = conn.execute(select(table).order_by(*order)).all()
            sealed = [c.name.endswith("_enc") for c in table.columns]
            out[table.name] = [tuple("NOW" if isinstance(v, datetime) and v.replace(tzinfo=None) >= since
                                     else vault.decrypt(v) if enc and v else v for v, enc in zip(row, sealed))
                               for row in rows]
    return out


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write ``rows`` under ``header`` as a CSV file; return its path."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def import_all(kind: str, engine: Engine, settings, files: list[Path], chunk: int, parallel: bool) -> list[Any]:
    """Import ``files`` in order; return each import's summary and rejects file text."""
    out = []
    for path in files:
        s = run_import(kind, path, eng=engine, settings=settings, chunk_size=chunk, parallel=parallel)
        rejects = s.rejects_path.read_text(encoding="utf-8") if s.rejects_path else None
        out.append((s.read, s.accepted, s.duplicates, s.rejected, s.codes, rejects))
    return out


def compare_paths(kind: str, engine: Engine, settings, monkeypatch: pytest.MonkeyPatch, files: list[Path],
                  chunk: int, parallel: bool, old_path: Callable[[pytest.MonkeyPatch], None]
                  ) -> tuple[list[Any], dict[str, list[tuple[Any, ...]]]]:
    """Import ``files`` with ``old_path`` patched in, then on a wiped store as ``siyu import`` does; assert the
    summaries, rejects files and every table are equal; return the reference summaries and tables."""
    since = utcnow().replace(tzinfo=None) - timedelta(seconds=1)
    with monkeypatch.context() as m:
        old_path(m)
        before = import_all(kind, engine, settings, files, chunk, False)
    reference = snapshot(engine, settings, since)
    wipe(engine)
    after = import_all(kind, engine, settings, files, chunk, parallel)
    assert after == before
    stored = snapshot(engine, settings, since)
    for name in reference:
        assert stored[name] == reference[name], name
    return before, reference
