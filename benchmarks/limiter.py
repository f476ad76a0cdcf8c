"""Measure `RateLimiter`: admission accuracy in real time, per-acquire overhead, and refunds.

Run from the repository root::

    .venv/bin/python benchmarks/limiter.py                 # all four, about two minutes
    .venv/bin/python benchmarks/limiter.py overhead        # a few seconds
    .venv/bin/python benchmarks/limiter.py accuracy --seconds 60
    .venv/bin/python benchmarks/limiter.py refund margin

- accuracy: one thread calls `acquire()` as fast as it can for `--seconds` at
  600 RPM with a one-second burst. The expected count is the burst (10) plus
  10 a second.
- overhead: `acquire_async` (with both limits, and with the request limit
  only, as aiolimiter has one), `acquire`, and `aiolimiter.AsyncLimiter.acquire`,
  with limits so high that nothing waits, in one process, interleaved over
  several rounds. The best round of each is reported, with the ratio to aiolimiter.
- refund: the same token-bound chat job against the mock server twice, once
  charging the estimate and once refunding what `usage` shows was not used.
- margin: requests larger than the token burst, which each wait for a full
  bucket, against the mock server with `margin_seconds` from 0 to 0.1 s; the
  429s show how much margin loopback timing needs.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import platform
import threading
import time
from collections.abc import Awaitable, Callable

import openai
from aiolimiter import AsyncLimiter

from ratelimit_toolkit.limiter import RateLimiter
from ratelimit_toolkit.limiter.bucket import DEFAULT_MARGIN_SECONDS
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.tokens import estimate_request

SECTIONS = ("overhead", "refund", "margin", "accuracy")

# Limits so high that neither limiter ever waits in the overhead rounds.
_NEVER_WAITS_PER_MINUTE = 1e15


def measure_accuracy(seconds: float, requests_per_minute: float = 600.0) -> None:
    limiter = RateLimiter(requests_per_minute, None, burst_seconds=1.0)
    expected = requests_per_minute / 60 * (1.0 + seconds)
    started = time.monotonic()
    admitted = 0
    while True:
        limiter.acquire()
        if time.monotonic() - started > seconds:
            break
        admitted += 1
    error = (admitted - expected) / expected
    print(f"accuracy: {admitted} admitted in {seconds:g} s at {requests_per_minute:g} RPM "
          f"(burst 1 s); expected {expected:.0f}; error {error:+.2%}")


async def _time_async(acquire: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await acquire()  # type: ignore[misc]
    return (time.perf_counter() - started) / count


async def _time_sync_in_loop(acquire: Callable[[], object], count: int) -> float:
    """Time the blocking `acquire` inside the same event loop, so all rounds run alike."""
    return _time_sync(acquire, count)


def _time_sync(acquire: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        acquire()
    return (time.perf_counter() - started) / count


async def _overhead_rounds(count: int, rounds: int) -> dict[str, float]:
    both_limits = RateLimiter(_NEVER_WAITS_PER_MINUTE, _NEVER_WAITS_PER_MINUTE, burst_seconds=60)
    requests_only = RateLimiter(_NEVER_WAITS_PER_MINUTE, None, burst_seconds=60)
    theirs = AsyncLimiter(_NEVER_WAITS_PER_MINUTE, 60)
    contenders: dict[str, Callable[[], Awaitable[float]]] = {
        "aiolimiter.AsyncLimiter.acquire": lambda: _time_async(theirs.acquire, count),
        "RateLimiter.acquire_async (RPM and TPM)": lambda: _time_async(both_limits.acquire_async, count),
        "RateLimiter.acquire_async (RPM only)": lambda: _time_async(requests_only.acquire_async, count),
        "RateLimiter.acquire (RPM and TPM)": lambda: _time_sync_in_loop(both_limits.acquire, count),
    }
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, measure in contenders.items():
            best[name] = min(best[name], await measure())
    return best


def measure_overhead(count: int = 200_000, rounds: int = 5) -> None:
    best = asyncio.run(_overhead_rounds(count, rounds))
    baseline = best["aiolimiter.AsyncLimiter.acquire"]
    print(f"overhead: best of {rounds} rounds of {count} acquires, nothing waits")
    for name, seconds in best.items():
        print(f"  {name:40s} {seconds * 1e6:6.2f} us per acquire   x{seconds / baseline:.2f} of aiolimiter")


def _chat_body(number: int, max_tokens: int) -> dict[str, object]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"Write one short line about rate limits, #{number}."}],
        "max_tokens": max_tokens,
    }


def _run_chat_job(
    base_url: str, limiter: RateLimiter, *, requests: int, threads: int, max_tokens: int, refund: bool = False
) -> tuple[float, int, int]:
    """Send `requests` chat requests through `limiter` from `threads` threads, resending 429s at once.

    Returns the elapsed seconds, the 429s and the tokens the responses reported as used.
    """
    client = openai.OpenAI(base_url=base_url, api_key="sk-mock", max_retries=0)
    refused = 0
    lock = threading.Lock()

    def one(number: int) -> int:
        nonlocal refused
        body = _chat_body(number, max_tokens)
        charged = estimate_request("chat/completions", body).total
        while True:
            limiter.acquire(charged)
            try:
                raw = client.chat.completions.with_raw_response.create(**body)  # type: ignore[call-overload]
            except openai.RateLimitError as error:
                with lock:
                    refused += 1
                limiter.observe(error.response.headers)
                continue
            limiter.observe(raw.headers)
            used = raw.parse().usage.total_tokens
            if refund and used < charged:
                limiter.refund(charged - used)
            return int(used)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        used_tokens = sum(pool.map(one, range(requests)))
    elapsed = time.monotonic() - started
    client.close()
    return elapsed, refused, used_tokens


def measure_refund(requests: int = 60, threads: int = 8) -> None:
    rpm, tpm = 6000, 60_000
    print(f"refund: {requests} chat requests with max_tokens 200 at {rpm:,} RPM / {tpm:,} TPM, burst 1 s, "
          f"{threads} threads; the mock server charges the estimate and never refunds")
    for refund in (False, True):
        with MockServer(rpm=rpm, tpm=tpm, burst_seconds=1.0) as server:
            limiter = RateLimiter(rpm, tpm, burst_seconds=1.0)
            elapsed, refused, used = _run_chat_job(server.base_url, limiter, requests=requests, threads=threads,
                                                   max_tokens=200, refund=refund)
        label = "with refund   " if refund else "without refund"
        print(f"  {label} {elapsed:6.2f} s  {requests / elapsed * 60:6.0f} requests/min  "
              f"{refused:3d} 429s  {used} tokens used of {limiter.stats.tokens:.0f} charged")


def measure_margin(requests: int = 16, threads: int = 4) -> None:
    rpm, tpm = 6000, 24_000
    print(f"margin: {requests} chat requests of about 420 tokens each, larger than the 400-token burst, at "
          f"{rpm:,} RPM / {tpm:,} TPM, burst 1 s, {threads} threads, mock latency 20 ms + 0.5 ms per token")
    for margin_seconds in (0.0, 0.01, DEFAULT_MARGIN_SECONDS, 0.1):
        with MockServer(rpm=rpm, tpm=tpm, burst_seconds=1.0, base_latency_seconds=0.02,
                        per_token_latency_seconds=0.0005) as server:
            limiter = RateLimiter(rpm, tpm, burst_seconds=1.0, margin_seconds=margin_seconds)
            elapsed, refused, _ = _run_chat_job(server.base_url, limiter, requests=requests, threads=threads,
                                                max_tokens=400)
        print(f"  margin_seconds={margin_seconds:<5g} {elapsed:6.2f} s  {refused:3d} 429s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"what to measure, any of {', '.join(SECTIONS)} (default: all four)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of the real-time accuracy run, in seconds (default 60)")
    args = parser.parse_args()
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    sections = args.sections or list(SECTIONS)

    print(f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}")
    if "overhead" in sections:
        measure_overhead()
    if "refund" in sections:
        measure_refund()
    if "margin" in sections:
        measure_margin()
    if "accuracy" in sections:
        measure_accuracy(args.seconds)


if __name__ == "__main__":
    main()
