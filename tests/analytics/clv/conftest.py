"""Session fixtures with the CDNOW data (see cdnow.py); these tests are pure, no database."""

from __future__ import annotations

import pytest

from analytics.clv.cdnow import Summaries, published_ids, published_summaries, raw_purchases
from siyu.analytics.clv.summary import Purchase


@pytest.fixture(scope="session")
def cdnow() -> Summaries:
    """Return the published CDNOW calibration summaries (values rounded to 2 decimals)."""
    return published_summaries()


@pytest.fixture(scope="session")
def cdnow_ids() -> list[int]:
    """Return the sample ids of the published summaries, in their order."""
    return published_ids()


@pytest.fixture(scope="session")
def cdnow_purchases() -> dict[int, list[Purchase]]:
    """Return every purchase of the CDNOW sample by sample id, amounts in cents (fen)."""
    return raw_purchases()
