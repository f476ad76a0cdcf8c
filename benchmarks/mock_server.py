"""Measure the mock server's sustained requests per second next to a bare aiohttp endpoint.

Run from the repository root::

    .venv/bin/python benchmarks/mock_server.py                  # 5 s per contender
    .venv/bin/python benchmarks/mock_server.py --seconds 10 --concurrency 32

Each contender is a server in its own process, pinned to CPU core 0; the
load generator runs in another process pinned to core 1 (when the machine has
two cores). The load generator is an aiohttp client with keep-alive
connections and `--concurrency` workers that send requests back to back for
`--seconds`, after a short warm-up. Contenders:

- `hello`: a bare aiohttp handler that returns a fixed JSON body;
- `mock, same body`: `MockServer` responding to one chat completion request body
  over and over (its answer cache hits);
- `mock, distinct bodies`: every request carries a different prompt, so each
  answer is composed and its tokens counted afresh.

The mock's limits are set so high that nothing is refused, and its latency is 0.
Every number is 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import platform
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from aiohttp import web

_SERVER_CORE = 0
_CLIENT_CORE = 1
_WARM_UP_SECONDS = 1.0
# A server process stops by itself after this long, even if the parent dies.
_SERVER_MAX_LIFETIME_SECONDS = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per contender (default: 5)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent connections of the load generator (default: 64)")
    arguments = parser.parse_args()
    if not 0 < arguments.seconds <= 60:
        parser.error("--seconds must be in (0, 60]")

    pinned = _can_pin()
    print(f"machine: {_cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, aiohttp {aiohttp.__version__}")
    print(f"server on core {_SERVER_CORE}, load generator on core {_CLIENT_CORE}" if pinned else "cores not pinned (needs 2 cores)")
    print(f"{arguments.concurrency} keep-alive connections, {arguments.seconds:g} s per contender after {_WARM_UP_SECONDS:g} s warm-up\n")

    results = {}
    for name, server_kind, distinct in (
        ("hello", "hello", False),
        ("mock, same body", "mock", False),
        ("mock, distinct bodies", "mock", True),
    ):
        results[name] = run_contender(server_kind, distinct, arguments.seconds, arguments.concurrency, pinned)
        print(f"{name:24} {results[name]['rate']:9,.0f} req/s  ({_describe(results[name])})")

    hello_rate = results["hello"]["rate"]
    for name in ("mock, same body", "mock, distinct bodies"):
        print(f"{name} / hello = {results[name]['rate'] / hello_rate:.2f}")


def run_contender(server_kind: str, distinct: bool, seconds: float, concurrency: int, pinned: bool) -> dict[str, Any]:
    """Start one server process, load it from another process, and return the counts."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    server = context.Process(target=_server_process, args=(server_kind, child_end, pinned), daemon=True)
    server.start()
    try:
        port = parent_end.recv()
        result_end, load_end = context.Pipe()
        load = context.Process(target=_load_process, args=(port, distinct, seconds, concurrency, load_end, pinned), daemon=True)
        load.start()
        result: dict[str, Any] = result_end.recv()
        load.join(timeout=30)
        return result
    finally:
        server.terminate()
        server.join(timeout=10)


def _server_process(kind: str, connection: Connection, pinned: bool) -> None:
    if pinned:
        os.sched_setaffinity(0, {_SERVER_CORE})
    if kind == "mock":
        _run_mock_server(connection)
    else:
        asyncio.run(_run_hello_server(connection))


def _run_mock_server(connection: Connection) -> None:
    from ratelimit_toolkit.mock import MockServer

    with MockServer(rpm=1_000_000_000, tpm=1_000_000_000_000, burst_seconds=60) as server:
        connection.send(server.port)
        time.sleep(_SERVER_MAX_LIFETIME_SECONDS)


async def _run_hello_server(connection: Connection) -> None:
    async def hello(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"message": "hello"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    connection.send(runner.addresses[0][1])
    try:
        await asyncio.sleep(_SERVER_MAX_LIFETIME_SECONDS)
    finally:
        await runner.cleanup()


def _load_process(port: int, distinct: bool, seconds: float, concurrency: int, connection: Connection, pinned: bool) -> None:
    if pinned:
        os.sched_setaffinity(0, {_CLIENT_CORE})
    connection.send(asyncio.run(_generate_load(port, distinct, seconds, concurrency)))


async def _generate_load(port: int, distinct: bool, seconds: float, concurrency: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    counter = itertools.count()
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": "Bearer sk-mock"}) as session:
        await _run_workers(session, url, counter, distinct, _WARM_UP_SECONDS, concurrency, {})
        started = time.perf_counter()
        await _run_workers(session, url, counter, distinct, seconds, concurrency, statuses)
        elapsed_seconds = time.perf_counter() - started
    ok = statuses.get(200, 0)
    return {"rate": ok / elapsed_seconds, "statuses": statuses, "elapsed_seconds": elapsed_seconds}


async def _run_workers(
    session: aiohttp.ClientSession,
    url: str,
    counter: itertools.count[int],
    distinct: bool,
    seconds: float,
    concurrency: int,
    statuses: dict[int, int],
) -> None:
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            number = next(counter) if distinct else 0
            body = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"Write a line about request number {number}."}],
                "max_tokens": 16,
            }
            async with session.post(url, json=body) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _describe(result: dict[str, Any]) -> str:
    statuses = ", ".join(f"{status}: {count:,}" for status, count in sorted(result["statuses"].items()))
    return f"{statuses} in {result['elapsed_seconds']:.2f} s"


def _can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and {_SERVER_CORE, _CLIENT_CORE} <= os.sched_getaffinity(0)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
