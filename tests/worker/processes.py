"""Helpers of the process-level worker tests: real ``siyu`` processes and receivers that count what arrives.

A :class:`WebhookReceiver` is a local HTTP server that checks each request's signature and records its
``Idempotency-Key``; a :class:`MailReceiver` is a local SMTP server (aiosmtpd) that records each
email's ``Message-ID`` and ``X-Siyu-Idempotency-Key``. Counting at the receiving end is the point:
the outbox table says what the dispatcher believes it sent, these say what arrived. Either receiver can
SIGKILL the sending worker when its nth message arrives (``kill``), which lands the kill in the widest
window there is: the message was delivered, the worker has not heard the answer, nothing is marked.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from aiosmtpd.controller import Controller

from siyu.channels.registry import webhook_secret
from siyu.channels.webhook.adapter import verify_signature
from siyu.config import Settings


def free_port() -> int:
    """Return a TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebhookReceiver:
    """A local HTTP server recording every signed POST it receives (``delay``: seconds before answering)."""

    def __init__(self, secret: str, delay: float = 0.0) -> None:
        self.secret, self.delay = secret, delay
        self.keys: list[str] = []
        self.bodies: dict[str, dict[str, Any]] = {}
        self.paths: list[str] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.kill: tuple[int, int] | None = None  # (nth request, pid): SIGKILL that process on receiving it
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify_signature(receiver.secret, raw, self.headers.get("X-Siyu-Timestamp"),
                                      self.headers.get("X-Siyu-Signature"))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.bad_signatures += 0 if ok else 1
                    receiver.keys.append(key)
                    receiver.paths.append(self.path)
                    receiver.bodies[key] = orjson.loads(raw)
                    _kill_at(receiver.kill, len(receiver.keys))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> collections.Counter[str]:
        """Return how many times each idempotency key arrived."""
        with self.lock:
            return collections.Counter(self.keys)

    def received(self) -> int:
        """Return how many requests arrived."""
        with self.lock:
            return len(self.keys)


def _kill_at(kill: tuple[int, int] | None, received: int) -> None:
    """SIGKILL the sender when its ``nth`` message arrives: after the send, before it hears the answer."""
    if kill is not None and received == kill[0]:
        os.kill(kill[1], signal.SIGKILL)


class _Inbox:
    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []  # (Message-ID, X-Siyu-Idempotency-Key)
        self.lock = threading.Lock()
        self.kill: tuple[int, int] | None = None  # (nth email, pid): SIGKILL that process before answering it

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        mail = message_from_bytes(envelope.content, policy=email_policy.default)
        with self.lock:
            self.keys.append((str(mail["Message-ID"]), str(mail["X-Siyu-Idempotency-Key"])))
            _kill_at(self.kill, len(self.keys))
        return "250 Message accepted"


class MailReceiver:
    """A local SMTP server (aiosmtpd) recording each email's Message-ID and idempotency key."""

    def __init__(self) -> None:
        self.inbox, self.port = _Inbox(), free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def counts(self) -> collections.Counter[str]:
        """Return how many times each idempotency key arrived by email."""
        with self.inbox.lock:
            return collections.Counter(key for _mid, key in self.inbox.keys)

    def message_ids(self) -> dict[str, set[str]]:
        """Return the Message-IDs each idempotency key arrived with."""
        out: dict[str, set[str]] = collections.defaultdict(set)
        with self.inbox.lock:
            for mid, key in self.inbox.keys:
                out[key].add(mid)
        return out


def secret_of(env: dict[str, str]) -> str:
    """Return the webhook signing secret the processes started with ``env`` use."""
    return webhook_secret(Settings(secret_key=env["SIYU_SECRET_KEY"], env="test"))


def worker_env(database_url: str, secret: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a ``siyu worker`` on ``database_url`` (segments and service off, small batches)."""
    return {**os.environ, "SIYU_DATABASE_URL": database_url, "SIYU_SECRET_KEY": secret, "SIYU_ENV": "test",
            "SIYU_DATA_DIR": str(data_dir), "SIYU_SEGMENT_REFRESH_SECONDS": "0", "SIYU_SERVICE_POLL_SECONDS": "0",
            "SIYU_SCORES_REFRESH_SECONDS": "0", "SIYU_DISPATCH_IDLE_SECONDS": "0.2", "SIYU_LOG_LEVEL": "WARNING",
            **extra}


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start ``siyu worker [args]`` (the real CLI) as its own process, logging to ``log``."""
    out = log.open("ab")  # a file, not a pipe: a full pipe would stall the worker
    try:
        return subprocess.Popen([sys.executable, "-m", "siyu.cli.main", "worker", "--interval", "3600", *args],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """End ``proc`` (SIGTERM, then SIGKILL after 10 s) and reap it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(check: Callable[[], bool], seconds: float, what: str, procs: list[subprocess.Popen[bytes]],
             log: Path | None = None) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` (and a worker that died) when ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        dead = [p.returncode for p in procs if p.poll() is not None]
        if dead:
            raise AssertionError(f"a worker exited ({dead}) before {what}:\n{_tail(log)}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
