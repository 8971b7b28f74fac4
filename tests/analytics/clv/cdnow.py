"""The CDNOW data read straight from the files the ``lifetimes`` package ships (test extra).

The files are read with importlib.resources rather than ``lifetimes.datasets``, whose loader needs
``pkg_resources`` (gone from setuptools 82). ``CDNOW_sample.txt`` holds the raw purchases of the
2,357-customer sample FHL (2005) used: sample id, date, CDs bought and dollar value per line.
"""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib.resources import files
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from siyu.analytics.clv.summary import Purchase

with warnings.catch_warnings():
    # lifetimes 0.11.3 sets a pandas option on import that pandas 3 deprecates; the tests import it after this.
    warnings.simplefilter("ignore")
    import lifetimes  # noqa: F401

UTC_ZONE = ZoneInfo("UTC")
CALIBRATION_END = date(1997, 9, 30)  # weeks 1-39 of FHL (2005)
HOLDOUT_END = date(1998, 6, 30)  # weeks 40-78
NOW = datetime(2000, 1, 1, tzinfo=UTC_ZONE)


@dataclass(frozen=True)
class Summaries:
    """Published CDNOW summaries: x, t_x, T (weeks) and mean repeat value in dollars (zbar)."""

    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    t: NDArray[np.float64]
    zbar: NDArray[np.float64]


def _dataset(name: str) -> str:
    return (files("lifetimes") / "datasets" / name).read_text()


def published_summaries() -> Summaries:
    """Return the published CDNOW calibration summaries (values rounded to 2 decimals)."""
    rows = list(csv.DictReader(_dataset("cdnow_customers_summary_with_transactions.csv").splitlines()))
    column = {key: np.array([float(row[key]) for row in rows]) for key in ("x", "t_x", "T", "zbar")}
    return Summaries(column["x"], column["t_x"], column["T"], column["zbar"])


def published_ids() -> list[int]:
    """Return the sample ids of the published summaries, in their order."""
    return [int(row["ID"]) for row in csv.DictReader(_dataset("cdnow_customers_summary.csv").splitlines())]


def raw_purchases() -> dict[int, list[Purchase]]:
    """Return every purchase of the CDNOW sample by sample id, amounts in cents (fen)."""
    purchases: dict[int, list[Purchase]] = defaultdict(list)
    for line in _dataset("CDNOW_sample.txt").splitlines():
        _master_id, sample_id, day, _cds, dollars = line.split()
        at = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), 12, tzinfo=UTC_ZONE)
        purchases[int(sample_id)].append((at, int(Decimal(dollars) * 100)))
    return dict(purchases)
