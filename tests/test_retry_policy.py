"""`RetryPolicy`: the wait arithmetic and its argument checks."""

from __future__ import annotations

import importlib
import random

import pytest

from ratelimit_toolkit.retry import RetryPolicy


def test_backoff_doubles() -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=2, max_wait=60, jitter=None)
    assert [policy.backoff_seconds(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]


def test_backoff_capped() -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=2, max_wait=5, jitter=None)
    assert policy.backoff_seconds(10) == 5


def test_backoff_huge_retry_number() -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=10, max_wait=5)
    assert policy.backoff_seconds(100_000) == 5


def test_first_wait_is_initial() -> None:
    assert RetryPolicy(initial_wait=0.5, jitter=None).wait_seconds(1) == 0.5


def test_full_jitter_within_backoff() -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=2, max_wait=10)
    rng = random.Random(3)
    for retry_number in range(1, 8):
        wait = policy.wait_seconds(retry_number, rng=rng)
        assert 0 <= wait <= policy.backoff_seconds(retry_number)


def test_jitter_repeatable_with_seed() -> None:
    policy = RetryPolicy()
    first = [policy.wait_seconds(n, rng=random.Random(7)) for n in range(1, 5)]
    second = [policy.wait_seconds(n, rng=random.Random(7)) for n in range(1, 5)]
    assert first == second


def test_server_hint_is_floor() -> None:
    policy = RetryPolicy(initial_wait=1, max_wait=60)
    rng = random.Random(1)
    assert all(policy.wait_seconds(1, 3.0, rng) >= 3.0 for _ in range(100))


def test_server_hint_adds_backoff_without_jitter() -> None:
    assert RetryPolicy(initial_wait=1, jitter=None).wait_seconds(2, 3.0) == 5.0


def test_server_hint_capped_at_max_wait() -> None:
    assert RetryPolicy(max_wait=2, jitter=None).wait_seconds(1, 100.0) == 2.0


def test_server_hint_ignored_when_off() -> None:
    assert RetryPolicy(initial_wait=1, jitter=None, honor_server_wait=False).wait_seconds(1, 30.0) == 1.0


def test_retry_number_starts_at_one() -> None:
    with pytest.raises(ValueError, match="retry_number"):
        RetryPolicy().backoff_seconds(0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("initial_wait", -1),
        ("initial_wait", float("nan")),
        ("max_wait", 0),
        ("max_wait", float("inf")),
        ("multiplier", 0.5),
        ("multiplier", True),
        ("jitter", "equal"),
        ("max_attempts", 0),
        ("max_attempts", 2.5),
        ("max_total_seconds", 0),
        ("max_total_seconds", -3),
        ("honor_server_wait", "yes"),
    ],
)
def test_policy_rejects_invalid(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("module_name", ["ratelimit_toolkit.retry", "ratelimit_toolkit.errors"])
def test_all_sorted_and_defined(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__ == sorted(module.__all__)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []
