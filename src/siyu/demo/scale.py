"""Build the demo brand with the bulk loader: the same database as the service path, much faster.

Two sides share the work of each block of people:

* the **history side** simulates people, prepares each block (:mod:`siyu.demo.feed`: identity
  sets and blind indexes, order summaries, refusals, encrypted profiles), and once the graph
  side has answered with anchors writes the block's events, orders, order lines and order facts;
* the **graph side** resolves each block's identities batch by batch with
  :class:`siyu.domains.ingest.bulk.GraphLoader` (the OneID resolver's rules on a graph held in
  memory) and replays what contact, group and CRM events derive, then writes the graph and that
  derived state at the end.

In parallel mode the graph side also simulates, prepares and turns into rows a share of the
blocks itself (:data:`GRAPH_SHARE`; people are the same whichever process simulates them; ids are
given out block after block from ``Work.ids``), and sends the rows for the history side to write:
the history side's work per block is the larger, and the graph side would otherwise wait for it.
The history side builds the history tables' dropped indexes after its last block, while the graph
side finishes its own work.

With ``parallel`` (the default for SQLite files from :data:`PARALLEL_FROM` customers) the history
side runs in a second process and writes straight into the target file, while the graph side
works in memory and in a scratch file next to it (staff, codes, audit, and the graph's rows,
flushed there after each block while the history side works on: the graph side would otherwise
wait idle); at the end the graph's changed rows are rewritten in the scratch file, its tables
copied in (``INSERT … SELECT``, no Python per row), the derived rows written, and every
other secondary index (dropped for the load) is rebuilt while ``beside_indexes`` (the dashboard
summaries' reading and computing) runs in a thread. Otherwise both sides run in turn in this
process, on the target database. Either way the database is the one the services leave.

Phases (``phases`` in the result, wall seconds, and ``cpu``, the CPU seconds of the process that ran
each; the two sides overlap in parallel mode):
``generate``, ``prepare``, ``rows``, ``history``, ``history_indexes`` and ``waiting_for_anchors``
on the history side; ``resolve``, ``flush``, ``waiting_for_work``, ``derived``, ``copy``,
``indexes`` and ``waiting_beside_indexes`` on the graph side (the ``indexes`` CPU includes the
thread's; ``cpu["beside_indexes"]`` is the thread's own), and ``graph_generate``,
``graph_prepare`` and ``graph_rows`` for the blocks the graph side prepares.
"""

from __future__ import annotations

import gc
import multiprocessing
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from siyu.analytics.models import SUMMARY_TABLES
from siyu.config import Settings
from siyu.db.engine import make_engine, unit_of_work
from siyu.db.migrate import upgrade
from siyu.demo import brand
from siyu.demo.feed import Anchors, BlockRows, Feed, Work
from siyu.demo.people import simulate
from siyu.demo.plan import BrandPlan, make_plan
from siyu.domains.identity.service import IdentityContext
from siyu.domains.ingest import bulk, bulk_history
from siyu.domains.ingest import bulk_repository as bulk_repo
from siyu.domains.ingest.service import IngestContext
from siyu.kit.runtime import tune_gc

ACTOR = "demo"
PARALLEL_FROM = 10_000
LOOKAHEAD = 2  # blocks the history side prepares ahead of the graph side
GRAPH_SHARE = (1, 2)  # parallel mode: the graph side prepares this many blocks of every so many itself
KEPT_INDEXES = frozenset({"ix_order_items_order_pk", "ix_events_identity_occurred", "ix_orders_identity_placed"})


class Timer:
    """Accumulates wall time and this process's CPU time per phase (CPU says more on a busy machine)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - started
            self.cpu[phase] = self.cpu.get(phase, 0.0) + time.process_time() - cpu


@dataclass(frozen=True)
class _Job:
    """What the history side needs to know (picklable, for a spawned process)."""

    url: str
    settings: Settings
    seed: int
    start: int
    end: int
    customers: int
    block: int
    batch: int
    tops: dict[str, int]
    split: bool  # writing into the target while the graph is elsewhere: no foreign keys
    graph_share: tuple[int, int] = (0, 1)  # the graph side prepares block n itself when graph_takes(n, graph_share)
    indexes: tuple[str, ...] = ()  # history tables' indexes this side builds after its last block


def graph_takes(number: int, share: tuple[int, int]) -> bool:
    """Return whether the graph side simulates and prepares block ``number`` (the last ``taken`` of every ``of``)."""
    taken, of = share
    return number % of >= of - taken


class HistorySide:
    """Simulates and prepares blocks, then writes their history once anchors arrive.

    The graph side uses one without an engine for the blocks it prepares itself (:meth:`rows`).
    """

    def __init__(self, job: _Job, engine: Engine | None):
        self.job, self.engine, self.timer = job, engine, Timer()
        self.plan = make_plan(job.seed, job.start, job.end, job.settings.csv_set(job.settings.test_phone_numbers))
        ids = IdentityContext.from_settings(job.settings)
        self.feed = Feed(ids, {c.state for c in self.plan.codes}, job.batch, job.end, job.tops)
        self.facts, self.rejected = 0, Counter[str]()

    def blocks(self) -> Iterator[tuple[int, int]]:
        """Yield (first, stop) person indexes of each block."""
        for first in range(0, self.job.customers, self.job.block):
            yield first, min(self.job.customers, first + self.job.block)

    def prepare(self, first: int, stop: int) -> tuple[Work, Any]:
        """Simulate and prepare one block."""
        with self.timer("generate"), _no_collector():
            people = [simulate(self.plan, i, self.plan.start, self.plan.end) for i in range(first, stop)]
        with self.timer("prepare"), _no_collector():
            work, pending = self.feed.prepare(people)
        self.facts += sum(len(p.facts) for p in people)
        self.rejected.update(work.rejected)
        return work, pending

    def rows(self, pending: Any, anchors: Anchors) -> BlockRows:
        """Return one block's history rows for an SQLite target (the block was resolved in this process)."""
        with self.timer("rows"), _no_collector():
            return BlockRows(self.feed.rows(pending, anchors, bulk_history.Clock(sqlite=True)))

    def write(self, pending: Any, anchors: Anchors | BlockRows) -> None:
        """Write one block's history in one transaction (its rows made here, or by the graph side)."""
        assert self.engine is not None
        with self.engine.connect().execution_options(siyu_write=True) as conn:
            transaction = conn.begin()
            writer = bulk_history.HistoryWriter(conn)
            if isinstance(anchors, BlockRows):
                rows = anchors.rows
                self.feed.skip(_ids_of(rows, self.feed.next))
            else:
                with self.timer("rows"), _no_collector():
                    rows = self.feed.rows(pending, anchors, writer.clock)
            with self.timer("history"):
                writer.write(*rows)
            with self.timer("history_commit"):
                transaction.commit()
        with self.timer("history_free"):
            del rows, pending
        gc.freeze()  # what stays alive only grows: keep the collector from walking it again

    def finish(self) -> dict[str, Any]:
        """Return what this side counted and timed."""
        assert self.engine is not None
        with self.engine.begin() as conn:
            bulk_history.finish_history(conn)
        return {"facts": self.facts, "rejected": dict(self.rejected), "phases": self.timer.phases,
                "cpu": self.timer.cpu}


def _ids_of(rows: tuple[list[Any], ...], nxt: dict[str, int]) -> dict[str, int]:
    """Return how many ids of each history table a block's rows take, checking they start where ``nxt`` says."""
    ids = {}
    for table, part in zip(("events", "orders", "order_items", "order_facts"), rows):
        if part and part[0][0] != nxt[table]:
            raise RuntimeError(f"{table} rows made elsewhere start at id {part[0][0]}, not {nxt[table]}")
        ids[table] = len(part)
    return ids


@contextmanager
def _no_collector() -> Iterator[None]:
    """Pause the cyclic garbage collector, then freeze what was made: a block's people, facts and rows hold no cycles.

    Millions of them are made per block, so the collector would otherwise walk the young ones
    again and again for nothing (and all of them at once on the first allocation after it is
    enabled again, had they not been frozen).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _history_process(job: _Job, work_q: Any, answer_q: Any, done_q: Any) -> None:
    """Run the history side in its own process, talking to the graph side through queues."""
    try:
        tune_gc()
        engine = make_engine(job.url)
        bulk_repo.tune_engine(engine, foreign_keys=not job.split)
        side = HistorySide(job, engine)
        pending: deque[Any] = deque()  # per block in order: what prepare kept, or None (the graph side prepares it)
        ahead = 0  # blocks this side prepared and has not written
        for number, (first, stop) in enumerate(side.blocks()):
            if graph_takes(number, job.graph_share):
                pending.append(None)
                continue
            work, kept = side.prepare(first, stop)
            work_q.put(work)
            pending.append(kept)
            ahead += 1
            while ahead > LOOKAHEAD:  # write in block order, the graph side's blocks as they come
                kept = pending.popleft()
                ahead -= kept is not None
                side.write(kept, _answer(side, answer_q))
        while pending:
            side.write(pending.popleft(), _answer(side, answer_q))
        with side.timer("history_indexes"), engine.begin() as conn:
            bulk_repo.create_indexes(conn, [i for i in bulk_repo.secondary_indexes(bulk_repo.HISTORY_TABLES)
                                            if i.name in job.indexes])
        done_q.put(("ok", side.finish()))
        engine.dispose()
    except BaseException:
        done_q.put(("error", traceback.format_exc()))
        raise


def _answer(side: HistorySide, answer_q: Any) -> Anchors | BlockRows:
    with side.timer("waiting_for_anchors"):
        answer = answer_q.get()
    if answer is None:
        raise RuntimeError("the graph side stopped")
    return answer  # type: ignore[no-any-return]


def resolve_block(engine: Engine, loader: bulk.GraphLoader, work: Work, *, flush: bool = False) -> Anchors:
    """Run one block's batches and CRM records through the graph loader, in one transaction.

    ``flush`` writes the graph rows created so far, for history about to be written beside them
    with foreign keys enforced (one database); a split load writes the graph once, at the end.
    """
    loader.begin_block(work.norms)
    answers = []
    with unit_of_work(engine) as session:
        for events, orders in work.batches:
            ea = loader.events(session, events) if events else ()
            oa = loader.orders(session, orders) if orders else ()
            answers.append((ea, oa))
        for records in work.records:
            loader.customers(session, records)
        if flush:
            loader.flush_graph(session.connection())
    gc.freeze()  # the loader's memory only grows: keep the collector from walking it block after block
    return Anchors(answers)


def _split_target(engine: Engine) -> Path | None:
    """Return the target's file when the load can be split (an SQLite file with every table empty)."""
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    with engine.connect() as conn:
        empty = bulk_repo.is_empty(conn, bulk_repo.content_tables())
    return Path(url.database) if empty else None


def build_bulk(engine: Engine, settings: Settings, plan: BrandPlan, customers: int, block: int, batch: int,
               on_block: Callable[[int], None] | None = None, parallel: bool | None = None,
               beside_indexes: Callable[[], None] | None = None) -> dict[str, Any]:
    """Load the brand into the empty, migrated database behind ``engine``; return facts, refusals and timings.

    ``beside_indexes``: work that only reads the loaded rows (the dashboard summaries' reading and
    computing), run in a thread while the split load's indexes are rebuilt; a load that is not
    split does not call it. Its CPU seconds are ``cpu["beside_indexes"]``.
    """
    if parallel is None:
        parallel = customers >= PARALLEL_FROM
    target = _split_target(engine) if parallel else None
    tune_gc()
    try:
        if target is not None:
            return _build_split(engine, target, settings, plan, customers, block, batch, on_block, beside_indexes)
        return _build_inline(engine, settings, plan, customers, block, batch, on_block)
    finally:
        gc.unfreeze()


def _graph_start(engine: Engine, settings: Settings, plan: BrandPlan) -> bulk.GraphLoader:
    with unit_of_work(engine) as session:
        brand.create_structure(session, plan)
    loader = bulk.GraphLoader(IngestContext.from_settings(settings))
    with unit_of_work(engine) as session:
        loader.start(session)
    return loader


def _depart(engine: Engine, loader: bulk.GraphLoader, plan: BrandPlan) -> None:
    with unit_of_work(engine) as session:
        for userid, (when, heir) in sorted(plan.departures.items()):
            loader.depart(session, userid, heir, when, ACTOR)


def _build_inline(engine: Engine, settings: Settings, plan: BrandPlan, customers: int, block: int, batch: int,
                  on_block: Callable[[int], None] | None) -> dict[str, Any]:
    loader = _graph_start(engine, settings, plan)
    indexes = bulk_repo.secondary_indexes((*bulk_repo.HISTORY_TABLES, *bulk.DERIVED_TABLES))
    with unit_of_work(engine) as session:
        tops = bulk_history.history_ids(session.connection())
        bulk_repo.drop_indexes(session.connection(), indexes)
    job = _Job(str(engine.url), settings, plan.seed, plan.start, plan.end, customers, block, batch, tops, False)
    side = HistorySide(job, engine)
    timer = side.timer
    for first, stop in side.blocks():
        work, pending = side.prepare(first, stop)
        with timer("resolve"):
            anchors = resolve_block(engine, loader, work, flush=True)
        side.write(pending, anchors)
        if on_block:
            on_block(stop - first)
    done = side.finish()
    with timer("derived"):
        _depart(engine, loader, plan)
        with unit_of_work(engine) as session:
            loader.finish_graph(session.connection())
            loader.write_derived(session.connection())
    with timer("indexes"), unit_of_work(engine) as session:
        bulk_repo.create_indexes(session.connection(), indexes)
    return done


def _build_split(engine: Engine, target: Path, settings: Settings, plan: BrandPlan, customers: int, block: int,
                 batch: int, on_block: Callable[[int], None] | None,
                 beside_indexes: Callable[[], None] | None) -> dict[str, Any]:
    timer = Timer()
    # Indexes whose keys grow with the load (order lines by order, facts by identity: a block's
    # identities are the newest) stay and are appended to; the others are dropped for the load and
    # rebuilt at the end, since keeping them dirties pages all over the file in every block.
    # The history side builds its tables' ones after its last block, beside the graph side's last work.
    rebuilt = [i for i in bulk_repo.secondary_indexes(bulk_repo.content_tables()) if i.name not in KEPT_INDEXES]
    history_built = tuple(str(i.name) for i in rebuilt if i.table.name in bulk_repo.HISTORY_TABLES)
    with engine.begin() as conn:
        tops = bulk_history.history_ids(conn)
        bulk_repo.drop_indexes(conn, rebuilt)
    engine.dispose()  # no open SQLite handle crosses the fork
    job = _Job(str(engine.url.render_as_string(hide_password=False)), settings, plan.seed, plan.start, plan.end,
               customers, block, batch, tops, True, GRAPH_SHARE, history_built)
    methods = multiprocessing.get_all_start_methods()
    mp = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    work_q, answer_q, done_q = mp.Queue(), mp.Queue(), mp.Queue()
    history = mp.Process(target=_history_process, args=(job, work_q, answer_q, done_q), name="siyu-demo-history",
                         daemon=True)
    history.start()
    scratch_path = target.with_name(target.name + ".graph")
    _remove(scratch_path)
    scratch = make_engine(f"sqlite:///{scratch_path}")
    try:
        bulk_repo.tune_engine(scratch, scratch=True)
        upgrade(scratch)
        with scratch.begin() as conn:  # the graph's rows are flushed there block by block, then copied in
            bulk_repo.drop_indexes(conn, bulk_repo.secondary_indexes(bulk.GRAPH_TABLES))
        loader = _graph_start(scratch, settings, plan)
        own = _graph_blocks(scratch, loader, job, (work_q, answer_q, done_q), history, on_block, timer)
        with timer("derived"):
            _depart(scratch, loader, plan)
            with unit_of_work(scratch) as session:
                loader.finish_graph(session.connection())
        with timer("waiting_for_history"):
            status, done = done_q.get()
        if status != "ok":
            raise RuntimeError(f"the history process failed:\n{done}")
        history.join()
        scratch.dispose()
        _write_target(engine, scratch_path, loader, timer)
        del loader  # the graph and the replayed state: garbage now, collected beside the index build
        _rebuild_indexes(engine, [i for i in rebuilt if i.name not in history_built], beside_indexes, timer)
    finally:
        if history.is_alive():
            answer_q.put(None)
            history.terminate()
        answer_q.cancel_join_thread()  # a failed build may leave rows nobody reads: do not wait at exit to send them
        scratch.dispose()
        _remove(scratch_path)
    done["facts"] += own.facts
    done["rejected"] = dict(Counter(done["rejected"]) + own.rejected)
    done["phases"] = {**done["phases"], **timer.phases, **{f"graph_{k}": v for k, v in own.timer.phases.items()}}
    done["cpu"] = {**done["cpu"], **timer.cpu, **{f"graph_{k}": v for k, v in own.timer.cpu.items()}}
    return done


def _graph_blocks(scratch: Engine, loader: bulk.GraphLoader, job: _Job, queues: tuple[Any, Any, Any], history: Any,
                  on_block: Callable[[int], None] | None, timer: Timer) -> HistorySide:
    """Resolve every block in order (the history side's work, and the blocks this side prepares itself).

    Return the side that prepared this process's blocks (its counts and timings).
    """
    work_q, answer_q, done_q = queues
    own = HistorySide(job, None)
    for number, first in enumerate(range(0, job.customers, job.block)):
        stop = min(job.customers, first + job.block)
        if graph_takes(number, job.graph_share):
            _own_block(scratch, loader, own, first, stop, answer_q, timer)
        else:
            with timer("waiting_for_work"):
                work = _next(work_q, done_q, history)
            own.feed.skip(work.ids)
            _answer_block(scratch, loader, work, answer_q, timer)
        if on_block:
            on_block(stop - first)
    return own


def _write_target(engine: Engine, scratch_path: Path, loader: bulk.GraphLoader, timer: Timer) -> None:
    """Copy the scratch file's tables (the graph's among them) into the target, then write the derived rows."""
    with timer("copy"):
        skip = {*bulk_repo.HISTORY_TABLES, *bulk.DERIVED_TABLES, *SUMMARY_TABLES}
        bulk_repo.copy_tables(engine, str(scratch_path), [t for t in bulk_repo.content_tables() if t not in skip])
    with timer("derived"), unit_of_work(engine) as session:
        with bulk_repo.loading_pragmas(session.connection().connection.driver_connection):
            loader.write_derived(session.connection())


def _answer_block(scratch: Engine, loader: bulk.GraphLoader, work: Work, answer_q: Any, timer: Timer) -> None:
    """Resolve one block, send the anchors to the history side, then flush the graph's new rows into the scratch
    file while the history side works on (the graph side would otherwise wait idle)."""
    with timer("resolve"):
        answer_q.put(resolve_block(scratch, loader, work))
    with timer("flush"), unit_of_work(scratch) as session:
        loader.flush_graph(session.connection())


def _own_block(scratch: Engine, loader: bulk.GraphLoader, own: HistorySide, first: int, stop: int, answer_q: Any,
               timer: Timer) -> None:
    """Simulate, prepare and resolve one block in the graph process, send its history rows, then flush the graph."""
    work, kept = own.prepare(first, stop)
    with timer("resolve"):
        anchors = resolve_block(scratch, loader, work)
    answer_q.put(own.rows(kept, anchors))
    del work, kept, anchors
    with timer("flush"), unit_of_work(scratch) as session:
        loader.flush_graph(session.connection())


def _rebuild_indexes(engine: Engine, indexes: list[Any], beside: Callable[[], None] | None, timer: Timer) -> None:
    """Create the dropped indexes; run ``beside`` in a thread meanwhile (SQLite's writer releases the GIL).

    A WAL reader sees the committed rows while the writer builds the indexes: the two use both CPUs.
    """
    cpu: list[float] = []

    def run() -> None:
        started = time.thread_time()
        try:
            # the load's objects were frozen block by block (see _no_collector); the graph's hold cycles
            # (customers and their identities), so only a collection frees them before ``beside`` allocates
            gc.unfreeze()
            gc.collect()
            beside()  # type: ignore[misc]
        finally:
            cpu.append(time.thread_time() - started)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="siyu-demo-beside") as pool:
        future = pool.submit(run) if beside is not None else None
        with timer("indexes"), unit_of_work(engine) as session:
            bulk_repo.create_indexes(session.connection(), indexes)
        if future is not None:
            with timer("waiting_beside_indexes"):
                future.result()
    if cpu:
        timer.cpu["beside_indexes"] = cpu[0]


def _next(work_q: Any, done_q: Any, history: Any) -> Work:
    """Return the next block of work, or raise if the history process died."""
    while True:
        try:
            return work_q.get(timeout=1.0)  # type: ignore[no-any-return]
        except Empty:
            if not history.is_alive() or not done_q.empty():
                status, detail = done_q.get() if not done_q.empty() else ("error", "exited")
                raise RuntimeError(f"the history process stopped early ({status}):\n{detail}") from None


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
