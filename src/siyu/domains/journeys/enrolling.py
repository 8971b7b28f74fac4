"""Putting customers into a journey: the re-entry policy, the holdout arm, and parsed definitions.

Whoever enrols (a trigger feeder, an API call, another journey's ``enrol`` step) comes here. A
customer enrolled while already active in the journey is skipped (a partial unique index makes that
hold under concurrency too). The holdout arm is drawn from a hash of (journey, customer), so it is
stable across re-entries and reproducible; holdout enrolments run no step and exist to measure the
goal against (see stats.py).
"""

from __future__ import annotations

import hashlib

import orjson
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.domains.journeys import definition as d
from siyu.domains.journeys import repository as repo
from siyu.domains.journeys.models import Journey
from siyu.errors import NotFound


ANALYSE_AFTER = 10_000  # enrolments due at once: refresh the planner's statistics (see repository.analyse_enrolments)


def bucket(*parts: object) -> int:
    """Return a stable bucket 0-99 of these parts (holdout arms and random splits)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def definition_of(session: Session, journey_id: int, version: int) -> d.Journey:
    """Return a version's parsed definition (versions never change, so parsing is cached)."""
    row = repo.version(session, journey_id, version)
    if row is None:
        raise NotFound(f"journey {journey_id} has no version {version}", code="version_not_found")
    return _cached(journey_id, version, row.definition)


_CACHE: dict[tuple[int, int, bytes], d.Journey] = {}


def _cached(journey_id: int, version: int, raw: dict[str, object]) -> d.Journey:
    # Keyed by the definition's bytes too: several stores (tests, tenants) may share ids in one process.
    key = (journey_id, version, orjson.dumps(raw, option=orjson.OPT_SORT_KEYS))
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 1024:
            _CACHE.clear()
        found = _CACHE[key] = d.parse(raw)
    return found


def resolve(session: Session, ref: int | str) -> Journey:
    """Return a journey by id or name, or raise ``journey_not_found``."""
    found = repo.get(session, ref) if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()) else None
    if found is None and isinstance(ref, str):
        found = repo.by_name(session, ref)
    if found is None:
        raise NotFound(f"no journey {ref!r}", code="journey_not_found")
    return found


def _allowed(spec: d.Journey, latest: dict[int, tuple[str, datetime]], customer_ids: Sequence[int],
             now: datetime) -> list[int]:
    allowed = []
    for cid in dict.fromkeys(customer_ids):
        last = latest.get(cid)
        if last is None:
            allowed.append(cid)
        elif last[0] == "active" or spec.reentry == "never":
            continue
        elif spec.reentry == "cooldown" and spec.cooldown and last[1] + spec.cooldown > now:
            continue
        else:
            allowed.append(cid)
    return allowed


def entrants(session: Session, journey: Journey, customer_ids: Sequence[int], *, source: str,
             now: datetime) -> tuple[d.Journey, list[dict[str, Any]]]:
    """Return a journey's current definition and the enrolment rows of the customers its re-entry policy admits."""
    spec = definition_of(session, journey.id, journey.current_version)
    allowed = _allowed(spec, repo.latest_enrolments(session, journey.id, customer_ids), customer_ids, now)
    rows = []
    for cid in allowed:
        held = spec.holdout_percent and bucket("holdout", journey.id, cid) < spec.holdout_percent
        rows.append({"journey_id": journey.id, "version": journey.current_version, "customer_id": cid,
                     "status": "holdout" if held else "active", "arm": "holdout" if held else "treatment",
                     "step": None if held else spec.first, "step_entered_at": now, "visit": 0,
                     "next_run_at": None if held else now, "lease_until": None, "attempt": 0, "waiting_for": None,
                     "source": source[:80], "reason": None, "entered_at": now, "finished_at": now if held else None})
    return spec, rows


def enrol(session: Session, journey: Journey, customer_ids: Sequence[int], *, source: str, now: datetime) -> int:
    """Enrol customers in a journey's current version under its re-entry policy; return how many entered."""
    _spec, rows = entrants(session, journey, customer_ids, source=source, now=now)
    repo.insert_enrolments(session, rows)
    if len(rows) >= ANALYSE_AFTER:
        repo.analyse_enrolments(session)
    return len(rows)
