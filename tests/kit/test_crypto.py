"""The keyed blind index is HMAC-SHA256 of ``kind\\x00value`` under the derived index key, truncated to 128 bits."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from siyu.kit.crypto import PiiVault, derive_key

SECRET = "test-secret-key-0123456789abcdef0123456789"
VAULT = PiiVault(SECRET)


@given(st.text(min_size=1, max_size=40), st.text(max_size=300))
def test_blind_index_is_the_standard_hmac(kind, value):
    expected = hmac.new(derive_key(SECRET, "pii-blind-index"), f"{kind}\x00{value}".encode(), hashlib.sha256)
    assert VAULT.blind_index(kind, value) == expected.digest()[:16].hex()


def test_blind_index_depends_on_the_key_and_the_kind():
    other = PiiVault(SECRET + "x")
    assert VAULT.blind_index("phone", "13912345678") != other.blind_index("phone", "13912345678")
    assert VAULT.blind_index("phone", "13912345678") != VAULT.blind_index("member_no", "13912345678")
    assert VAULT.blind_index("phone", "13912345678") == PiiVault(SECRET).blind_index("phone", "13912345678")
