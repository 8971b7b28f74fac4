"""Customers drawn from the BG/NBD and Gamma-Gamma generative stories, for recovery tests."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


def simulate_bgnbd(rng: np.random.Generator, ages: Floats, r: float, alpha: float, a: float,
                   b: float) -> tuple[Floats, Floats]:
    """Return (x, t_x) of customers of the given ages drawn from a BG/NBD with these parameters."""
    n = ages.size
    rate = rng.gamma(r, 1.0 / alpha, n)
    dropout = rng.beta(a, b, n)
    clock, x, t_x = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1.0 / rate[idx])
        bought = clock[idx] <= ages[idx]
        buyers = idx[bought]
        x[buyers] += 1
        t_x[buyers] = clock[buyers]
        active[idx[~bought]] = False
        # Right after each repeat purchase the customer drops out with their probability p.
        active[buyers[rng.random(buyers.size) < dropout[buyers]]] = False
    return x, t_x


def simulate_spend(rng: np.random.Generator, x: Floats, p: float, q: float, v: float) -> Floats:
    """Return each repeat buyer's mean purchase value drawn from a Gamma-Gamma (0 where x = 0)."""
    nu = rng.gamma(q, 1.0 / v, x.size)
    # The mean of x Gamma(p, ν) values is Gamma(p·x, x·ν).
    means = rng.gamma(np.maximum(p * x, 1e-12), 1.0 / (np.maximum(x, 1.0) * nu))
    return np.where(x > 0, means, 0.0)
