"""Several processes sharing one limit: a local limiter in each process versus one Redis limiter.

Run from the repository root::

    .venv/bin/python benchmarks/shared.py
    .venv/bin/python benchmarks/shared.py --processes 4 --requests 400

One `MockServer` runs in this process (on 127.0.0.1, `--rpm` requests per
minute, a one-second burst by default), and a throwaway `redis-server` on a
free 127.0.0.1 port. For each process count, the same job (`--requests` chat
requests split evenly across the worker processes) runs twice:

- local: every process has its own `RateLimiter` set to the whole limit;
- redis: every process uses one `RedisRateLimiter` on the same key.

Workers retry a 429 after the wait the server suggests and pass every
response's headers to `observe`. For each run the script prints the share of
calls refused with 429 and the efficiency (the shortest possible time at the
limit, a full burst and then the refill rate, divided by the time taken).

Then, with limits so high that nothing waits, it times `acquire(1)` calls in
every process (`--latency-calls` each) for both limiters and prints the
median and 99th percentile: the Redis limiter's added cost is one round trip
to Redis per call.

Without `redis-server` on PATH the Redis runs are skipped with a note.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

from ratelimit_toolkit.limiter.bucket import DEFAULT_MARGIN_SECONDS
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.redis_limiter import INSTALL_HINT, LocalRedisServer, find_redis_server
from ratelimit_toolkit.redis_limiter.workload import (
    RunResult,
    local_limiter,
    make_plans,
    median,
    percentile,
    run_workers,
    shared_limiter,
    time_acquires,
)

MODEL = "gpt-4o-mini"
# Tokens never bind in this benchmark: only the request limit is measured.
TOKENS_PER_MINUTE = 100_000_000
# Limits for the latency phase, far above what the timed calls need.
UNREACHABLE_PER_MINUTE = 1e12


def main() -> None:
    arguments = _parse_arguments()
    redis_available = find_redis_server() is not None
    _print_header(arguments, redis_available)

    redis_server = LocalRedisServer().start() if redis_available else None
    try:
        with MockServer(rpm=arguments.rpm, tpm=TOKENS_PER_MINUTE, burst_seconds=arguments.burst_seconds) as server:
            for processes in arguments.processes:
                _run_pair(arguments, server, redis_server, processes)
        for processes in arguments.processes:
            _time_pair(arguments, redis_server, processes)
    finally:
        if redis_server is not None:
            redis_server.stop()


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[2, 4, 8], help="worker process counts (default: 2 4 8)")
    parser.add_argument("--rpm", type=int, default=1_200, help="the server's requests per minute (default: 1200)")
    parser.add_argument("--burst-seconds", type=float, default=1.0, help="the server's burst in seconds (default: 1)")
    parser.add_argument("--requests", type=int, default=400, help="requests per run, split across the processes (default: 400)")
    parser.add_argument("--latency-calls", type=int, default=2_000, help="timed acquire calls per process (default: 2000)")
    return parser.parse_args()


def _print_header(arguments: argparse.Namespace, redis_available: bool) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"mock server: {arguments.rpm} RPM, burst {arguments.burst_seconds:g} s; "
        f"{arguments.requests} chat requests per run, retried after each 429"
    )
    print(f"limiters: the server's limits, burst {arguments.burst_seconds:g} s, margin {DEFAULT_MARGIN_SECONDS:g} s")
    if not redis_available:
        print(f"redis-server not found, so the Redis runs are skipped; {INSTALL_HINT}")
    print()
    print(f"{'processes':>9} {'limiter':>7} {'done':>5} {'lost':>5} {'calls':>6} {'429s':>5} {'429 share':>9} "
          f"{'elapsed s':>9} {'shortest s':>10} {'efficiency':>10}")


def _run_pair(arguments: argparse.Namespace, server: MockServer, redis_server: LocalRedisServer | None, processes: int) -> None:
    rpm, burst = arguments.rpm, arguments.burst_seconds
    factories = {"local": local_limiter(rpm, TOKENS_PER_MINUTE, burst_seconds=burst)}
    if redis_server is not None:
        factories["redis"] = shared_limiter(
            redis_server.url, rpm, TOKENS_PER_MINUTE, burst_seconds=burst, project=f"run-{processes}"
        )

    for label, factory in factories.items():
        # Let the server's buckets refill, so every run starts from a full burst.
        time.sleep(burst + 0.5)
        plans = make_plans(
            server.base_url,
            MODEL,
            processes=processes,
            requests_per_process=arguments.requests // processes,
            limiter_factory=factory,
            seed=processes,
        )
        result = run_workers(plans, label=label, requests_per_minute=rpm, burst_seconds=burst, server=server)
        _print_run(processes, result)


def _print_run(processes: int, result: RunResult) -> None:
    print(
        f"{processes:>9} {result.label:>7} {result.completed:>5} {result.given_up:>5} {result.calls:>6} {result.refused:>5} "
        f"{result.refused_share:>9.1%} {result.elapsed_seconds:>9.2f} {result.shortest_seconds:>10.2f} "
        f"{result.efficiency:>10.3f}",
        flush=True,
    )
    for error in result.errors:
        print(f"          error: {error}")


def _time_pair(arguments: argparse.Namespace, redis_server: LocalRedisServer | None, processes: int) -> None:
    if processes == arguments.processes[0]:
        print()
        print(f"acquire(1) with nothing to wait for, {arguments.latency_calls} calls per process:")
        print(f"{'processes':>9} {'limiter':>7} {'median ms':>10} {'p99 ms':>8}")

    local = time_acquires(
        local_limiter(UNREACHABLE_PER_MINUTE, None), processes=processes, calls=arguments.latency_calls
    )
    _print_latency(processes, "local", local)
    if redis_server is None:
        return
    shared = time_acquires(
        shared_limiter(redis_server.url, UNREACHABLE_PER_MINUTE, None, project=f"latency-{processes}"),
        processes=processes,
        calls=arguments.latency_calls,
    )
    _print_latency(processes, "redis", shared)
    added = median(shared) - median(local)
    print(f"{'':>9} {'added':>7} {added * 1e3:>10.3f} {(percentile(shared, 0.99) - percentile(local, 0.99)) * 1e3:>8.3f}")


def _print_latency(processes: int, label: str, durations: list[float]) -> None:
    p99 = percentile(durations, 0.99)
    print(f"{processes:>9} {label:>7} {median(durations) * 1e3:>10.3f} {p99 * 1e3 if not math.isnan(p99) else math.nan:>8.3f}")


if __name__ == "__main__":
    main()
