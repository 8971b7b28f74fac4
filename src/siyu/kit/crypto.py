"""PII protection: AES-GCM encryption at rest, a keyed blind index for look-ups, masking.

Two independent keys are derived from ``SIYU_SECRET_KEY`` with HKDF so the index key can never
decrypt. The blind index is HMAC-SHA256 over ``kind\\x00value`` truncated to 128 bits: equality
look-ups only, no prefix search, nothing reversible without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"siyu-v1", info=info).derive(secret.encode())


def derive_key(secret: str, purpose: str) -> bytes:
    """Return a 32-byte key for ``purpose`` derived from the secret (HKDF: keys of two purposes are independent)."""
    return _derive(secret, purpose.encode())


class PiiVault:
    """Encrypts, decrypts and blind-indexes PII values with keys derived from one secret."""

    def __init__(self, secret: str):
        self._aead = AESGCM(_derive(secret, b"pii-encryption"))
        # the keyed HMAC state, copied per value: cheaper than re-keying on every call
        self._index = hmac.new(_derive(secret, b"pii-blind-index"), digestmod=hashlib.sha256)

    def blind_index(self, kind: str, value: str) -> str:
        """Return the 32-hex-char keyed index of (kind, normalised value)."""
        mac = self._index.copy()
        mac.update(f"{kind}\x00{value}".encode())
        return mac.digest()[:16].hex()

    def encrypt(self, plaintext: str) -> str:
        """Return base64(nonce || ciphertext+tag)."""
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), None)).decode()

    def decrypt(self, token: str) -> str:
        """Return the plaintext of a token made by :meth:`encrypt`."""
        raw = base64.b64decode(token)
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()


def mask_phone(phone: str) -> str:
    """Mask a mobile number as 138****5678."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


def mask_email(email: str) -> str:
    """Mask an email as a***@example.com."""
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_name(name: str) -> str:
    """Mask a person's name keeping the first character (张**)."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_generic(value: str) -> str:
    """Mask any other identifier, keeping a short prefix and suffix."""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:3] + "…" + value[-3:]
