"""Fixtures for the read side of events and orders."""

from __future__ import annotations

import pytest

from siyu.config import Settings
from siyu.kit.crypto import PiiVault


@pytest.fixture
def vault(settings: Settings) -> PiiVault:
    return PiiVault(settings.effective_secret_key)
