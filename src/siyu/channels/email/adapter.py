"""``SmtpEmailAdapter``: email over real SMTP with the standard library's ``smtplib``.

Payload: ``{"to": address, "text": body, "html": optional}``; the subject is the message's ``subject``
(or ``payload.subject``). Every email carries a ``Message-ID`` derived from the idempotency key and an
``X-Siyu-Idempotency-Key`` header; marketing email to a known customer carries the one-click
unsubscribe headers of RFC 8058 (``List-Unsubscribe`` with the signed link, ``List-Unsubscribe-Post``).
SMTP has no idempotent submission, so a worker killed after the server accepted a message and before
the outbox marked it sends it again: email is at-least-once in that window (a receiving system may
still drop the duplicate by its Message-ID). Replies 4xx and connection failures are transient;
5xx are permanent.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from siyu.domains.outbox.ports import Outgoing, PermanentSendError, SendResult, TransientSendError


class SmtpEmailAdapter:
    """Send email through an SMTP server."""

    channel = "email"
    idempotent = False

    def __init__(self, host: str, port: int, sender: str, *, username: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout: float = 15.0, sender_name: str | None = None,
                 unsubscribe_url: Callable[[int], str] | None = None) -> None:
        self.host, self.port, self.sender, self.sender_name = host, port, sender, sender_name
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout
        self.unsubscribe_url = unsubscribe_url

    def build(self, m: Outgoing) -> EmailMessage:
        """Return the email ``m`` becomes; raise PermanentSendError if it has no recipient or body."""
        p = m.payload
        to, text = p.get("to"), p.get("text")
        if not to or "@" not in str(to):
            raise PermanentSendError("an email needs payload.to, an address", "no_recipient")
        if not text:
            raise PermanentSendError("an email needs payload.text", "empty_message")
        msg = EmailMessage()
        msg["From"] = formataddr((self.sender_name, self.sender)) if self.sender_name else self.sender
        msg["To"] = str(to)
        msg["Subject"] = m.subject or str(p.get("subject") or "")
        msg["Date"] = formatdate(localtime=False)
        digest = hashlib.sha256(m.idempotency_key.encode()).hexdigest()[:32]
        msg["Message-ID"] = f"<{digest}@siyu.outbox>"
        msg["X-Siyu-Idempotency-Key"] = m.idempotency_key
        if m.category == "marketing" and m.customer_id is not None and self.unsubscribe_url is not None:
            msg["List-Unsubscribe"] = f"<{self.unsubscribe_url(m.customer_id)}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(str(text))
        if p.get("html"):
            msg.add_alternative(str(p["html"]), subtype="html")
        return msg

    def send(self, message: Outgoing) -> SendResult:
        """Submit the email to the SMTP server."""
        msg = self.build(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes), f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise TransientSendError(f"SMTP {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise PermanentSendError(f"recipient refused: {refused}", "recipient_refused")
        return SendResult(provider_ref=str(msg["Message-ID"]))


def _by_code(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TransientSendError(text)
    return PermanentSendError(text, "smtp_rejected")
