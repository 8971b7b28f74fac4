"""Timing shared by the analyses' benchmarks: medians of wall and CPU time, printed as they come."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(label: str, fn: Callable[[], Any], repeats: int, width: int = 40) -> tuple[float, Any]:
    """Run ``fn`` ``repeats`` times; print the median wall time and the median CPU time of the process.

    CPU seconds (every thread of the process, DuckDB's included) say what the work costs whatever else
    runs on the shared machine; wall seconds are what a user waits. Returns (median wall, last result).
    """
    times, cpus, result = [], [], None
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    median = statistics.median(times)
    print(f"  {label:<{width}} median {median:6.2f} s, CPU {statistics.median(cpus):6.2f} s  "
          f"({' · '.join(f'{t:.2f}' for t in times)})", flush=True)
    return median, result
