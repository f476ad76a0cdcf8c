"""Send 100 back-to-back requests at 60 RPM with a one-second burst and show the first 429.

Run from the repository root::

    .venv/bin/python benchmarks/first_429.py
    .venv/bin/python benchmarks/first_429.py --requests 200 --burst-seconds 60
    .venv/bin/python benchmarks/first_429.py --interval 0.1    # spread over about 10 s

It starts an in-process `MockServer` on 127.0.0.1, sends the requests one after
another with the sync `openai` client (`max_retries=0`), and prints how many
were admitted in how much time, then the `x-ratelimit-*` headers and the
message of the first 429. With a one-second burst at 60 RPM the server admits
about one request per second of elapsed time, plus the one that fills the
first burst.
"""

from __future__ import annotations

import argparse
import platform
import time

import openai
from openai.types.chat import ChatCompletionMessageParam

from ratelimit_toolkit.mock import MockServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Write one sentence about rate limits."}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="requests to send (default: 100)")
    parser.add_argument("--rpm", type=int, default=60, help="requests per minute of the server (default: 60)")
    parser.add_argument("--burst-seconds", type=float, default=1.0, help="burst of the server, in seconds (default: 1)")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="pause after each request, in seconds, to spread the loop over time (default: 0)")
    arguments = parser.parse_args()

    with MockServer(rpm=arguments.rpm, tpm=150_000, burst_seconds=arguments.burst_seconds) as server:
        with openai.OpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0) as client:
            admitted, first_refusal, elapsed_seconds = send_back_to_back(client, arguments.requests, arguments.interval)

    print(f"machine: {_cpu_name()}, Python {platform.python_version()}")
    print(
        f"server: {arguments.rpm} RPM, burst {arguments.burst_seconds:g} s; "
        f"{arguments.requests} back-to-back requests with the sync openai client, max_retries=0, "
        f"pause {arguments.interval:g} s after each"
    )
    expected = arguments.rpm * arguments.burst_seconds / 60 + arguments.rpm / 60 * elapsed_seconds
    print(f"admitted: {admitted} of {arguments.requests} in {elapsed_seconds:.3f} s "
          f"({arguments.requests - admitted} refused with 429); the buckets allow about {expected:.1f}; "
          f"{admitted / elapsed_seconds:.2f} admitted per second")
    if first_refusal is None:
        print("no 429 was returned")
        return
    print(f"first 429 (request {first_refusal[0]}): {first_refusal[1].message}")
    for name, value in first_refusal[1].response.headers.items():
        if name.startswith("x-ratelimit-") or name.startswith("retry-after"):
            print(f"  {name}: {value}")


def send_back_to_back(
    client: openai.OpenAI, count: int, interval_seconds: float = 0.0
) -> tuple[int, tuple[int, openai.RateLimitError] | None, float]:
    """Send `count` requests one after another; return admitted count, first 429 and elapsed seconds."""
    admitted = 0
    first_refusal: tuple[int, openai.RateLimitError] | None = None
    started = time.perf_counter()
    for number in range(1, count + 1):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=20)
            admitted += 1
        except openai.RateLimitError as error:
            if first_refusal is None:
                first_refusal = (number, error)
        if interval_seconds:
            time.sleep(interval_seconds)
    return admitted, first_refusal, time.perf_counter() - started


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
