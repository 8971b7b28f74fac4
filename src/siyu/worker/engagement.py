"""The engagement engine's loops in one bundle, for ``siyu serve`` when it runs them in-process.

``siyu worker`` is the production way to run journeys, scheduled mass messages, service replies and
the outbox dispatcher (its own process, any number of them). A one-machine install on the embedded
SQLite file (``make demo``) has no second process, so ``siyu serve`` starts these same loops as
daemon threads of the server (``SIYU_SERVE_WORKER``, ``siyu serve --worker/--no-worker``): every
claim is the same exclusive claim, so a server and a worker may also run them side by side.
"""

from __future__ import annotations

from sqlalchemy import Engine

from siyu.config import Settings
from siyu.worker.dispatch import DispatchLoop
from siyu.worker.journeys import JourneyScheduler
from siyu.worker.mass import MassScheduler
from siyu.worker.service import ServiceWorker


class EngagementLoops:
    """Journeys, scheduled mass messages, service replies and the dispatcher, started and stopped together."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        service = ServiceWorker(engine, settings)
        self.loops: list[JourneyScheduler | MassScheduler | ServiceWorker | DispatchLoop] = [
            JourneyScheduler(engine, settings), MassScheduler(engine, settings), DispatchLoop(engine, settings)]
        if service.interval > 0:
            self.loops.append(service)

    def start(self) -> None:
        """Start every loop in its daemon thread."""
        for loop in self.loops:
            loop.start()

    def stop(self, timeout: float | None = 10) -> None:
        """Stop every loop, waiting up to ``timeout`` seconds for each one's turn under way."""
        for loop in self.loops:
            loop.stop(timeout)
