"""Run one job of chat requests three ways, for the lessons that compare pacing strategies.

- `run_unpaced`: send as fast as the worker threads can, and let a retry
  decorator absorb the 429s.
- `run_fixed_delay`: the cookbook's pacing, one request every 60 / RPM
  seconds from one thread (`paced`), with the same retry decorator for the
  429s it still gets.
- `run_token_bucket`: worker threads that wait in a `RateLimiter` for both
  limits before each request and pass every response's headers to `observe`.

Each run returns a `JobResult` with the attempts recorded, the 429s counted
and the shortest time the limits allow (`ideal_seconds`), so a notebook can
print one table and draw the plots. This module is for lessons and
benchmarks, and `ratelimit_toolkit.processor` is the tool for real jobs.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ratelimit_toolkit.limiter.bucket import DEFAULT_MARGIN_SECONDS
from ratelimit_toolkit.limiter.pacing import paced
from ratelimit_toolkit.limiter.rate_limiter import RateLimiter
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry import retry_with_exponential_backoff
from ratelimit_toolkit.tokens import estimate_request

logger = logging.getLogger(__name__)

#: Retry settings for the runs: quick first retries and waits capped at 2 s, so
#: that a lesson's cells stay short. The server's suggested wait is honoured.
LESSON_RETRY = {"initial_delay": 0.25, "max_delay": 2.0, "max_retries": 20}

_TOPICS_EN = ["rate limits", "exponential backoff", "token buckets", "batch jobs", "response headers",
              "jitter", "throughput", "latency", "quotas", "retries"]
_TOPICS_KO = ["속도 제한", "지수 백오프", "토큰 버킷", "배치 작업", "응답 헤더",
              "지터", "처리량", "지연 시간", "할당량", "재시도"]


@dataclass
class JobResult:
    """What one run of a job did.

    Attributes:
        label: the strategy's name in tables and legends.
        completed: requests that succeeded.
        attempts: HTTP requests sent, retries included.
        refused: attempts answered with 429.
        elapsed_seconds: wall time of the run.
        ideal_seconds: the shortest time the limits allow for the job.
        recorder: every attempt, for plots.
        server_stats: the mock server's statistics for the run, when a server was given.
    """

    label: str
    completed: int
    attempts: int
    refused: int
    elapsed_seconds: float
    ideal_seconds: float
    recorder: Recorder
    server_stats: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def efficiency(self) -> float:
        """`ideal_seconds / elapsed_seconds`: 1.0 means the job ran at the limit the whole time."""
        return self.ideal_seconds / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def row(self) -> dict[str, Any]:
        """Return the run as one table row."""
        return {
            "strategy": self.label,
            "requests": self.completed,
            "HTTP calls": self.attempts,
            "429s": self.refused,
            "elapsed (s)": round(self.elapsed_seconds, 1),
            "ideal (s)": round(self.ideal_seconds, 1),
            "efficiency": round(self.efficiency, 3),
        }


def lesson_bodies(
    count: int, *, model: str, max_tokens: int = 100, long_every: int = 0, long_max_tokens: int = 400,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Build `count` chat requests, alternating Korean and English, the same for the same seed.

    Every `long_every`-th request (none when 0) sets `long_max_tokens`
    instead of `max_tokens`, so the token limit can bind while the request
    limit does not.
    """
    rng = random.Random(seed)
    bodies = []
    for number in range(count):
        cap = long_max_tokens if long_every and number % long_every == long_every - 1 else max_tokens
        if number % 2 == 0:
            text = f"{rng.choice(_TOPICS_KO)}에 대해 한두 문장으로 설명해 주세요. (요청 {number})"
        else:
            text = f"Explain {rng.choice(_TOPICS_EN)} in one or two sentences. (request {number})"
        bodies.append({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": cap})
    return bodies


def ideal_seconds(
    bodies: Sequence[dict[str, Any]],
    *,
    requests_per_minute: float,
    tokens_per_minute: float,
    burst_seconds: float,
) -> float:
    """Return the shortest time in which limits starting full admit every request of `bodies`.

    Each limit needs `(total - capacity) / rate` seconds, where the capacity is
    `burst_seconds` of the limit. The job needs the longer of the two.
    """
    token_total = sum(estimate_request("chat/completions", body).total for body in bodies)
    needs = [(len(bodies), requests_per_minute), (token_total, tokens_per_minute)]
    return max(max(0.0, (total - per_minute * burst_seconds / 60) / (per_minute / 60)) for total, per_minute in needs)


def run_unpaced(
    client: Any, bodies: Sequence[dict[str, Any]], *, limits: dict[str, float], concurrency: int = 8,
    server: Any = None, label: str = "retry only",
) -> JobResult:
    """Send every request from `concurrency` threads as fast as they go, retrying 429s with backoff."""
    recorder = Recorder()
    send = _retrying(lambda body: client.chat.completions.create(**body), recorder, "unpaced")
    return _run(label, bodies, send, concurrency, limits, recorder, server)


def run_fixed_delay(
    client: Any, bodies: Sequence[dict[str, Any]], *, limits: dict[str, float], server: Any = None,
    label: str = "fixed delay 60/RPM",
) -> JobResult:
    """Send the requests one after another, starting one every `60 / RPM` seconds and retrying 429s."""
    recorder = Recorder()
    call = paced(limits["requests_per_minute"])(lambda body: client.chat.completions.create(**body))
    send = _retrying(call, recorder, "fixed-delay")
    return _run(label, bodies, send, 1, limits, recorder, server)


def run_token_bucket(
    client: Any, bodies: Sequence[dict[str, Any]], *, limits: dict[str, float], concurrency: int = 8,
    server: Any = None, label: str = "token bucket", margin_seconds: float = DEFAULT_MARGIN_SECONDS,
) -> JobResult:
    """Wait in a `RateLimiter` for each request's estimated tokens, then send it from one of `concurrency` threads.

    The same retry decorator wraps the call, so a 429 would still be retried
    and counted. The limiter exists to make that never happen.
    """
    recorder = Recorder()
    limiter = RateLimiter(
        limits["requests_per_minute"], limits["tokens_per_minute"],
        burst_seconds=limits["burst_seconds"], margin_seconds=margin_seconds,
    )

    def call(body: dict[str, Any]) -> Any:
        limiter.acquire(estimate_request("chat/completions", body).total)
        raw = client.chat.completions.with_raw_response.create(**body)
        limiter.observe(raw.headers)
        return raw.parse()

    send = _retrying(call, recorder, "token-bucket")
    return _run(label, bodies, send, concurrency, limits, recorder, server)


def _retrying(call: Callable[[dict[str, Any]], Any], recorder: Recorder, name: str) -> Callable[[dict[str, Any]], Any]:
    def send(body: dict[str, Any]) -> Any:
        return call(body)

    send.__name__ = name
    return retry_with_exponential_backoff(send, recorder=recorder, rng=random.Random(0), **LESSON_RETRY)


def _run(
    label: str,
    bodies: Sequence[dict[str, Any]],
    send: Callable[[dict[str, Any]], Any],
    concurrency: int,
    limits: dict[str, float],
    recorder: Recorder,
    server: Any,
) -> JobResult:
    if server is not None:
        _let_server_refill(server, limits["burst_seconds"])
    logger.info("run %r: %d requests from %d threads", label, len(bodies), concurrency)

    recorder.clear()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, bodies))
    elapsed = time.monotonic() - started

    summary = recorder.summary()
    result = JobResult(
        label=label,
        completed=sum(1 for item in results if item is not None),
        attempts=summary.attempts,
        refused=summary.rate_limited,
        elapsed_seconds=elapsed,
        ideal_seconds=ideal_seconds(bodies, **limits),
        recorder=recorder,
        server_stats=None if server is None else server.stats(),
    )
    logger.info("run %r finished: %d attempts, %d got 429, %.1f s", label, result.attempts, result.refused, elapsed)
    return result


def _let_server_refill(server: Any, burst_seconds: float) -> None:
    """Wait one burst's refill, which fills buckets left at or above zero, then clear the statistics.

    A run that left a bucket in debt (a request larger than the burst) would need longer.
    """
    time.sleep(math.ceil(burst_seconds * 10) / 10 + 0.2)
    server.reset_stats()
