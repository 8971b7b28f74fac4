"""Token buckets: a channel's calls per minute hold over a simulated minute."""

from __future__ import annotations

from siyu.domains.outbox.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_bucket_holds_the_rate_within_one_percent_over_a_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"wecom": 10_000}, clock=clock, sleep=clock.sleep)
    calls = 0
    while clock.t < 60.0:
        limiter.acquire("wecom")
        calls += 1
    assert 10_000 <= calls <= 10_100  # the half-second burst is the only excess
    limiter.acquire("email")  # unlimited channel: no wait
    assert clock.t < 60.01


def test_share_and_reconfigure() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"sms": 600}, share=0.5, clock=clock, sleep=clock.sleep)
    for _ in range(300):
        limiter.acquire("sms")
    assert 55 <= clock.t <= 60.5  # 300 per minute for this worker's half
    limiter.configure({})
    before = clock.t
    limiter.acquire("sms")
    assert clock.t == before
