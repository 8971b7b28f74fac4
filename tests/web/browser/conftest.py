"""Browser-test fixtures: a real ``siyu serve`` process on a demo brand, and Chromium driven by Playwright.

The server runs in its own process (real HTTP between processes) on a temp SQLite file built by
``siyu demo``; users of every role are created with ``siyu user create``. Chromium is Debian's
``/usr/bin/chromium`` (``make test`` installs it); Playwright never downloads a browser. Every page
a test opens must finish without console errors or uncaught exceptions, and screenshots go to
``tests/artifacts/`` (ignored by git) for a reviewer to look at.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from web.browser.helpers import PASSWORD, Server

CHROMIUM = "/usr/bin/chromium"
SECRET = "browser-test-secret-key-0123456789abcdef"
DEMO_CUSTOMERS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _siyu(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "siyu.cli.main", *args], env=env, input=stdin, text=True,
                          capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, f"siyu {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def _staff_userids(env: dict[str, str]) -> list[str]:
    rows = [line.split("\t") for line in _siyu(env, "staff", "list").splitlines() if line.strip()]
    return [r[1] for r in rows if r[-1] == "active"]


def _create_users(server: Server) -> None:
    active = _staff_userids(server.env)
    for username, role, staff in (("ops", "operator", None), ("ana", "analyst", None),
                                  ("staff1", "staff", active[0]), ("staff2", "staff", active[1])):
        args = ["user", "create", username, "--role", role, "--password-stdin"]
        if staff:
            args += ["--staff", staff]
            server.staff_userids[username] = staff
        _siyu(server.env, *args, stdin=PASSWORD + "\n")
        server.passwords[username] = PASSWORD


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"siyu serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("siyu serve did not answer /healthz in time")


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Build a demo brand into a temp SQLite file, create users of every role, and serve it."""
    root = tmp_path_factory.mktemp("console")
    database_url = f"sqlite:///{root / 'siyu.db'}"
    env = {**os.environ, "SIYU_DATABASE_URL": database_url, "SIYU_SECRET_KEY": SECRET, "SIYU_ENV": "test",
           "SIYU_DATA_DIR": str(root)}
    out = _siyu(env, "demo", "--customers", str(DEMO_CUSTOMERS), "--seed", "7", "--no-progress")
    password = re.search(r"console login:\s+admin / (\S+)", out)
    key = re.search(r"admin API key:\s+(\S+)", out)
    assert password and key, out
    port = _free_port()
    server = Server(url=f"http://127.0.0.1:{port}", database_url=database_url, env=env, api_key=key.group(1),
                    passwords={"admin": password.group(1)})
    _create_users(server)
    log = (root / "serve.log").open("wb")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen([sys.executable, "-m", "siyu.cli.main", "serve", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(server.url, proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium once per session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions seen while a test ran."""

    items: list[str] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)  # URLs a test opens on purpose to see them fail

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and message.location.get("url") in self.expected:
            return
        self.items.append(f"console error: {message.text} at {message.location}")

    def exception(self, error: Exception) -> None:
        self.items.append(f"uncaught: {error}")


PROBLEMS: dict[int, PageProblems] = {}


def expect_http_error(tab: Page, url: str) -> None:
    """Let ``url`` fail with a 4xx on ``tab`` without failing the test (the test checks the status itself)."""
    PROBLEMS[id(tab)].expected.add(url)


def _page(browser: Browser, server: Server, width: int, height: int) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": height},
                                  locale="zh-CN")
    tab = context.new_page()
    problems = PROBLEMS[id(tab)] = PageProblems()
    tab.on("console", problems.console)
    tab.on("pageerror", problems.exception)
    try:
        yield tab
    finally:
        context.close()
        PROBLEMS.pop(id(tab), None)
    assert problems.items == [], "the page logged errors:\n" + "\n".join(problems.items)


@pytest.fixture
def page(browser: Browser, console_server: Server) -> Iterator[Page]:
    """A desktop-sized tab in a fresh browser context (no cookies); fails the test on console errors."""
    yield from _page(browser, console_server, 1366, 900)


@pytest.fixture
def phone(browser: Browser, console_server: Server) -> Iterator[Page]:
    """A phone-sized tab (390×844) in a fresh browser context; fails the test on console errors."""
    yield from _page(browser, console_server, 390, 844)
