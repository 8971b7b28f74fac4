"""The simulated brand behind ``siyu demo``, the benchmarks and the tests (see docs/demo.md)."""
