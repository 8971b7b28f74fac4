"""Send scheduled mass messages when their time comes (a thread of ``siyu worker``; ``--once`` for cron).

Every ``interval`` seconds a turn sends each due message in its own transaction. No lease is needed:
``mass_messages.send`` claims a message with one conditional UPDATE (scheduled → sending), so of
several workers exactly one sends it, and every outbox message and task it writes is keyed.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import Engine

from siyu.config import Settings
from siyu.db.engine import unit_of_work
from siyu.domains import mass_messages
from siyu.errors import SiyuError
from siyu.kit.time import utcnow

log = structlog.get_logger("siyu.worker")


class MassScheduler:
    """Sends due mass messages every ``interval`` seconds (:meth:`start` in a thread, :meth:`run_once`)."""

    def __init__(self, engine: Engine, settings: Settings, interval: float = 30.0) -> None:
        self.engine, self.settings, self.interval = engine, settings, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[int]:
        """Send every scheduled message that is due now; return their ids."""
        with unit_of_work(self.engine, write=False) as s:
            due = mass_messages.due_ids(s, utcnow())
        sent = []
        for mass_id in due:
            try:
                with unit_of_work(self.engine) as s:
                    mass_messages.send(s, self.settings, mass_id, actor="system:scheduler")
                sent.append(mass_id)
            except SiyuError as exc:  # sent or cancelled by someone else meanwhile
                log.info("mass_send_skipped", mass_id=mass_id, code=exc.code)
        if sent:
            log.info("mass_sent", ids=sent)
        return sent

    def run(self) -> None:
        """Take a turn every ``interval`` seconds until :meth:`stop` (a failed turn is logged and retried)."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed turn must not end the schedule; the next one retries
                log.exception("mass_turn_failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Run the schedule in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="siyu-mass", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the schedule (after the turn under way, if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
