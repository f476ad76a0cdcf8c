"""Compare the three retry strategies: 30 requests at once against a 60 RPM server with a one-second burst.

Run from the repository root::

    .venv/bin/python benchmarks/retry_strategies.py
    .venv/bin/python benchmarks/retry_strategies.py --requests 20 --rpm 120

For each strategy (tenacity, backoff, hand-written) the script starts a fresh
in-process `MockServer` on 127.0.0.1, wraps `chat.completions.create` of an
`openai` client with `max_retries=0`, and sends all requests at once from one
thread each. It prints one row per strategy: requests that succeeded and that
gave up, total attempts, 429s, the summed waits and the wall time. Every
strategy uses the same `RetryPolicy` and the same jitter seed, so the rows
differ only by scheduling noise.

The server admits one request per second after the first, so the wall time is
at least about `requests - 1` seconds whatever the strategy. The 429 count
shows how many refused attempts each strategy spent to get there.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
from collections.abc import Callable
from typing import Any

from ratelimit_toolkit import lesson, retry
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry import RetryPolicy

MESSAGES = [{"role": "user", "content": "Write one sentence about rate limits."}]
STRATEGIES = ("tenacity", "backoff", "handwritten")

#: Attempts are generous so that no request gives up while it waits its turn.
#: Waits stay short so that a request does not sleep long after capacity returns.
POLICY = RetryPolicy(initial_wait=0.5, multiplier=2, max_wait=4.0, max_attempts=60)


def decorate(strategy: str, recorder: Recorder, seed: int) -> Callable[[Callable[..., Any]], Any]:
    """Return `strategy`'s decorator for `POLICY`, recording into `recorder`."""
    options: dict[str, Any] = {"recorder": recorder, "rng": random.Random(seed)}
    if strategy == "tenacity":
        return retry.retry_with_tenacity(policy=POLICY, **options)
    if strategy == "backoff":
        return retry.retry_with_backoff(policy=POLICY, **options)
    return retry.retry_with_exponential_backoff(
        initial_delay=POLICY.initial_wait,
        exponential_base=POLICY.multiplier,
        max_delay=POLICY.max_wait,
        max_retries=POLICY.max_attempts - 1,
        **options,
    )


def run_strategy(strategy: str, requests: int, rpm: int, burst_seconds: float, seed: int) -> dict[str, Any]:
    """Send `requests` at once through `strategy` against a fresh server; return one table row."""
    recorder = Recorder()
    with MockServer(rpm=rpm, tpm=1_000_000, burst_seconds=burst_seconds) as server:
        with retry.make_client(base_url=server.base_url, api_key="sk-mock-benchmark") as client:
            create = decorate(strategy, recorder, seed)(client.chat.completions.create)
            result = retry.call_simultaneously(
                lambda index: create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=20), requests
            )
    return retry.summary_row(strategy, recorder, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="requests sent at once, one thread each (default: 30)")
    parser.add_argument("--rpm", type=int, default=60, help="requests per minute of the server (default: 60)")
    parser.add_argument("--burst-seconds", type=float, default=1.0, help="burst of the server, in seconds (default: 1)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the jitter random source (default: 7)")
    arguments = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"server: {arguments.rpm} RPM, burst {arguments.burst_seconds:g} s; {arguments.requests} requests at once "
        f"from {arguments.requests} threads; openai client max_retries=0"
    )
    print(
        f"policy: initial_wait {POLICY.initial_wait:g} s, multiplier {POLICY.multiplier:g}, max_wait {POLICY.max_wait:g} s, "
        f"jitter {POLICY.jitter}, max_attempts {POLICY.max_attempts}, server hint honoured"
    )
    rows = [
        run_strategy(strategy, arguments.requests, arguments.rpm, arguments.burst_seconds, arguments.seed)
        for strategy in STRATEGIES
    ]
    print()
    print(repr(lesson.table(rows)))


if __name__ == "__main__":
    main()
