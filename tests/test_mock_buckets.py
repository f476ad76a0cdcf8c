"""Bucket arithmetic with a hand-moved clock: capacity, refill, debt, oversize, refusals."""

from __future__ import annotations

import math

import pytest

from ratelimit_toolkit.mock import RateLimits, TokenBucket


class FakeClock:
    """A monotonic clock that moves only when a test calls `advance`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def test_bucket_capacity_whole_minute(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 60, clock=fake_clock)
    assert bucket.capacity == 60.0


def test_bucket_capacity_one_second(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    assert bucket.capacity == 1.0


def test_bucket_starts_full(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(600, 10, clock=fake_clock)
    assert bucket.level == 100.0


def test_bucket_spends_whole_burst(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 60, clock=fake_clock)
    admitted = sum(bucket.try_acquire(1) for _ in range(100))
    assert admitted == 60


def test_bucket_one_second_burst_admits_one(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    admitted = sum(bucket.try_acquire(1) for _ in range(100))
    assert admitted == 1


def test_bucket_refills_continuously(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    bucket.try_acquire(1)
    fake_clock.advance(0.25)
    assert bucket.level == pytest.approx(0.25)


def test_bucket_refill_stops_at_capacity(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    bucket.try_acquire(1)
    fake_clock.advance(3600)
    assert bucket.level == 1.0


def test_bucket_admits_again_after_refill(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    bucket.try_acquire(1)
    fake_clock.advance(1.0)
    assert bucket.try_acquire(1)


def test_bucket_refuses_just_before_refill(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    bucket.try_acquire(1)
    fake_clock.advance(0.999)
    assert not bucket.try_acquire(1)


def test_bucket_thirds_add_up_exactly(fake_clock: FakeClock) -> None:
    # 20 per minute refills 1/3 per second: three steps must make a whole request.
    bucket = TokenBucket(20, 60, clock=fake_clock)
    for _ in range(20):
        bucket.try_acquire(1)
    for _ in range(3):
        fake_clock.advance(1.0)
    assert bucket.try_acquire(1)


def test_bucket_wait_seconds_exact(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(150_000, 60, clock=fake_clock)
    bucket.try_acquire(149_800)
    # 200 left, 400 needed: 200 more at 2,500 per second.
    assert bucket.wait_seconds(400) == pytest.approx(0.08)


def test_bucket_wait_zero_when_enough(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 60, clock=fake_clock)
    assert bucket.wait_seconds(1) == 0.0


def test_bucket_oversize_waits_for_full(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)  # capacity 100
    bucket.try_acquire(50)
    # 150 exceeds the capacity, so it needs a full bucket: 50 more at 100 per second.
    assert bucket.wait_seconds(150) == pytest.approx(0.5)


def test_bucket_oversize_admitted_when_full(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)
    assert bucket.try_acquire(150)


def test_bucket_oversize_leaves_debt(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)
    bucket.try_acquire(150)
    assert bucket.level == pytest.approx(-50.0)


def test_bucket_debt_repaid_by_refill(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)
    bucket.try_acquire(150)
    fake_clock.advance(0.5)
    assert bucket.level == pytest.approx(0.0)


def test_bucket_refuses_during_debt(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)
    bucket.try_acquire(150)
    fake_clock.advance(0.5)
    assert not bucket.try_acquire(1)


def test_bucket_above_limit_never_admitted(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)
    assert bucket.wait_seconds(6001) == math.inf


def test_bucket_limit_itself_admitted(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)
    assert bucket.try_acquire(6000)


def test_bucket_refusal_changes_nothing(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    bucket.try_acquire(1)
    bucket.try_acquire(1)
    fake_clock.advance(0.5)
    assert bucket.level == pytest.approx(0.5)


def test_bucket_charge_floor_is_one_minute(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    for _ in range(1000):
        bucket.charge(1)
    assert bucket.reset_seconds() == pytest.approx(60.0)


def test_bucket_remaining_floors(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 60, clock=fake_clock)
    bucket.try_acquire(10)
    fake_clock.advance(0.5)
    assert bucket.remaining() == 50


def test_bucket_remaining_zero_in_debt(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(6000, 1, clock=fake_clock)
    bucket.try_acquire(150)
    assert bucket.remaining() == 0


def test_bucket_reset_seconds(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 60, clock=fake_clock)
    bucket.try_acquire(6)
    assert bucket.reset_seconds() == pytest.approx(6.0)


def test_bucket_used_matches_message(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    bucket.try_acquire(1)
    assert bucket.used() == 60


def test_bucket_repr_shows_level(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(60, 1, clock=fake_clock)
    assert "level=1.000" in repr(bucket)


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "60"])
def test_bucket_rejects_bad_limit(limit: object, fake_clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="limit_per_minute"):
        TokenBucket(limit, 1, clock=fake_clock)  # type: ignore[arg-type]


@pytest.mark.parametrize("burst_seconds", [0, -1, 61, math.nan, "1"])
def test_bucket_rejects_bad_burst(burst_seconds: object, fake_clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="burst_seconds"):
        TokenBucket(60, burst_seconds, clock=fake_clock)  # type: ignore[arg-type]


def test_limits_admit_charges_both(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 1000, 60, clock=fake_clock)
    limits.admit(100)
    snapshot = limits.snapshot()
    assert (snapshot.remaining_requests, snapshot.remaining_tokens) == (59, 900)


def test_limits_request_refusal_charges_nothing(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 1000, 1, clock=fake_clock)  # 1 request, ~16.7 tokens per burst
    limits.admit(10)
    limits.admit(5)
    assert limits.tokens.level == pytest.approx(1000 / 60 - 10)


def test_limits_names_request_bucket(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 1_000_000, 1, clock=fake_clock)
    limits.admit(1)
    assert limits.admit(1).limit_type == "requests"


def test_limits_names_token_bucket(fake_clock: FakeClock) -> None:
    limits = RateLimits(1000, 150_000, 60, clock=fake_clock)
    limits.admit(149_800)
    assert limits.admit(400).limit_type == "tokens"


def test_limits_token_refusal_figures(fake_clock: FakeClock) -> None:
    limits = RateLimits(1000, 150_000, 60, clock=fake_clock)
    limits.admit(149_800)
    refusal = limits.admit(400)
    assert (refusal.limit, refusal.used, refusal.requested) == (150_000, 149_800, 400)


def test_limits_wait_covers_both(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 60, 1, clock=fake_clock)  # both buckets hold 1 per second
    limits.admit(1)
    fake_clock.advance(0.5)
    assert limits.admit(1).wait_seconds == pytest.approx(0.5)


def test_limits_too_large_request(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 1000, 60, clock=fake_clock)
    assert limits.admit(1001).too_large


def test_limits_too_large_charges_nothing(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 1000, 60, clock=fake_clock)
    limits.admit(1001)
    assert limits.requests.level == 60.0


def test_limits_charge_refused_takes_request(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 1000, 60, clock=fake_clock)
    limits.charge_refused()
    assert limits.requests.level == 59.0


def test_limits_snapshot_resets(fake_clock: FakeClock) -> None:
    limits = RateLimits(60, 6000, 60, clock=fake_clock)
    limits.admit(300)
    snapshot = limits.snapshot()
    assert (snapshot.reset_requests_seconds, snapshot.reset_tokens_seconds) == pytest.approx((1.0, 3.0))
