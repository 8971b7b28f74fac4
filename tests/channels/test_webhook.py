"""Signed webhooks: a real local HTTP receiver verifies them; retries by status; good, bad and expired signatures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from siyu.channels.webhook.adapter import WebhookAdapter, sign, verify_signature
from siyu.domains.outbox.ports import Outgoing, PermanentSendError, TransientSendError

SECRET = "whsec-" + "k" * 32


class Receiver(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify_signature(SECRET, body, self.headers["X-Siyu-Timestamp"], self.headers["X-Siyu-Signature"])
        Receiver.seen.append({"ok": ok, "key": self.headers["Idempotency-Key"], "body": orjson.loads(body)})
        self.send_response(Receiver.status if ok else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.seen, Receiver.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def _msg(url: str) -> Outgoing:
    return Outgoing(id=1, idempotency_key="journey:3:step:1:c9", kind="webhook", channel="webhook",
                    category="transactional", customer_id=9, staff_id=None,
                    payload={"url": url, "body": {"coupon": "SPRING"}}, source="journey:3:step:1")


def test_delivers_signed_and_the_receiver_verifies(receiver: str) -> None:
    result = WebhookAdapter(SECRET).send(_msg(receiver))
    assert result.provider_ref == "http 200"
    assert Receiver.seen == [{"ok": True, "key": "journey:3:step:1:c9", "body": {
        "id": "journey:3:step:1:c9", "kind": "webhook", "customer_id": 9, "source": "journey:3:step:1",
        "data": {"coupon": "SPRING"}}}]


def test_a_wrong_secret_is_refused_permanently(receiver: str) -> None:
    with pytest.raises(PermanentSendError) as info:
        WebhookAdapter("other-secret").send(_msg(receiver))
    assert info.value.reason == "http_401" and Receiver.seen[0]["ok"] is False


@pytest.mark.parametrize(("status", "error"), [(500, TransientSendError), (503, TransientSendError),
                                               (429, TransientSendError), (404, PermanentSendError)])
def test_status_decides_retry(receiver: str, status: int, error: type[Exception]) -> None:
    Receiver.status = status
    with pytest.raises(error):
        WebhookAdapter(SECRET).send(_msg(receiver))


def test_unreachable_is_transient() -> None:
    with pytest.raises(TransientSendError):
        WebhookAdapter(SECRET, timeout=2).send(_msg("http://127.0.0.1:9/hook"))


def test_verify_good_bad_expired() -> None:
    body, ts = b'{"a":1}', 1_700_000_000
    good = sign(SECRET, ts, body)
    assert verify_signature(SECRET, body, str(ts), good, now=ts + 10)
    assert not verify_signature(SECRET, body + b" ", str(ts), good, now=ts)  # body changed
    assert not verify_signature("x" * 38, body, str(ts), good, now=ts)  # other secret
    assert not verify_signature(SECRET, body, str(ts + 1), good, now=ts)  # timestamp changed
    assert not verify_signature(SECRET, body, str(ts), good, now=ts + 301)  # expired
    assert not verify_signature(SECRET, body, None, good) and not verify_signature(SECRET, body, "x", good)
