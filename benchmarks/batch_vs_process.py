"""Run one job through `ratelimit-toolkit process` and `ratelimit-toolkit batch` and compare the outputs line by line.

Run from the repository root::

    .venv/bin/python benchmarks/batch_vs_process.py                # 2,000 lines
    .venv/bin/python benchmarks/batch_vs_process.py --lines 500 --rpm 3000

A mock server on 127.0.0.1 (in this process, in a background thread) serves
both runs. Each run is the real command in a child process, with the server
address in `OPENAI_BASE_URL` and a placeholder key in `OPENAI_API_KEY`. The
comparison checks, for every input line, that both outputs have a record with
the same `line`, `metadata`, outcome and answer texts; ids, timestamps and
`attempts` may differ. The script also prints the wall time of each run, the
API calls each made, and the tokens in the answers priced at the example
prices in `ratelimit_toolkit.batch_api.costs` (not today's prices).

The mock compresses the Batch API's time: `--batch-seconds-per-request`
of wall time per request, where OpenAI promises results within 24 hours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from ratelimit_toolkit.batch_api import EXAMPLE_PRICES, compare_results, cost_usd, usage_of
from ratelimit_toolkit.mock import MockServer
from ratelimit_toolkit.processor import read_results

PLACEHOLDER_KEY = "sk-mock-benchmark"
#: A child command is stopped after this long, so the script always ends.
COMMAND_TIMEOUT_SECONDS = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2000, help="input lines (default: 2000)")
    parser.add_argument("--rpm", type=int, default=30_000, help="the mock server's requests per minute (default: 30000)")
    parser.add_argument("--tpm", type=int, default=10_000_000, help="the mock server's tokens per minute (default: 10000000)")
    parser.add_argument("--batch-seconds-per-request", type=float, default=0.001,
                        help="mock seconds per batch request (default: 0.001)")
    arguments = parser.parse_args()
    if not 1 <= arguments.lines <= 100_000:
        parser.error("--lines must be from 1 to 100000")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    print(f"job: {arguments.lines:,} chat requests; mock limits {arguments.rpm:,} RPM, {arguments.tpm:,} TPM, "
          f"burst 1 s; batch requests take {arguments.batch_seconds_per_request:g} s each\n")
    with tempfile.TemporaryDirectory() as folder, MockServer(
        rpm=arguments.rpm, tpm=arguments.tpm, burst_seconds=1.0,
        batch_seconds_per_request=arguments.batch_seconds_per_request,
    ) as server:
        work = Path(folder)
        source = write_job(work / "job.jsonl", arguments.lines)
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": PLACEHOLDER_KEY}
        process_seconds, process_calls = run("process", [str(source), "--output", str(work / "process.jsonl"),
                                                         "--url", f"{server.base_url}/chat/completions"], env, server)
        batch_seconds, batch_calls = run("batch", [str(source), "--output", str(work / "batch.jsonl"),
                                                   "--poll-interval", "0.2", "--max-poll-interval", "1"], env, server)
        report(work, process_seconds, process_calls, batch_seconds, batch_calls)


def write_job(path: Path, count: int) -> Path:
    rows = []
    for i in range(count):
        text = f"{i}번 고객 문의를 한 문장으로 요약해 주세요." if i % 2 else f"Summarise customer message {i} in one sentence."
        rows.append({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}],
                     "max_tokens": 20 + i % 40, "metadata": {"ticket": f"T-{i:05d}"}})
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    return path


def run(command: str, arguments: list[str], env: dict[str, str], server: MockServer) -> tuple[float, Counter[str]]:
    """Run one subcommand to its end; return its wall time and the API calls the server saw, by endpoint."""
    server.reset_stats()
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "ratelimit_toolkit.cli", "--log-level", "WARNING", command, *arguments, "--no-progress"],
        env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{command} exited with {completed.returncode}:\n{completed.stderr[-2000:]}")
    return seconds, Counter(record.endpoint for record in server.records())


def report(work: Path, process_seconds: float, process_calls: Counter[str], batch_seconds: float,
           batch_calls: Counter[str]) -> None:
    comparison = compare_results(work / "process.jsonl", work / "batch.jsonl")
    process_usage = usage_of(read_results(work / "process.jsonl"))
    batch_usage = usage_of(read_results(work / "batch.jsonl"))
    print(f"{'path':<8} {'seconds':>8} {'API calls':>10}  {'prompt tokens':>13} {'completion tokens':>17} {'cost (example)':>14}")
    for name, seconds, calls, usage, batch in (("process", process_seconds, process_calls, process_usage, False),
                                               ("batch", batch_seconds, batch_calls, batch_usage, True)):
        cost = cost_usd(usage, EXAMPLE_PRICES, batch=batch)
        print(f"{name:<8} {seconds:>8.2f} {sum(calls.values()):>10,}  {usage.prompt_tokens:>13,} "
              f"{usage.completion_tokens:>17,} {f'${cost:.4f}':>14}")
    print(f"\nAPI calls by endpoint: process {dict(process_calls)}; batch {dict(batch_calls)}")
    print(f"prices: {EXAMPLE_PRICES.source}")
    print(f"\nlines compared: {comparison.compared:,}; equal: {comparison.equal:,}; "
          f"only in process: {comparison.only_first:,}; only in batch: {comparison.only_second:,}")
    for mismatch in comparison.mismatches:
        print(f"  line {mismatch.line}: {mismatch.field} differs: {mismatch.first!r} vs {mismatch.second!r}")
    print("outputs equal line by line" if comparison.identical else "OUTPUTS DIFFER")
    if not comparison.identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
