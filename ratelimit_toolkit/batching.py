"""Send many prompts (or embedding inputs) in few requests, and match the answers back by `index`.

When the requests-per-minute limit binds before the tokens-per-minute limit,
putting several prompts in one request raises throughput: the legacy
`/v1/completions` endpoint takes a list of prompts and `/v1/embeddings` a list
of inputs. Chat models cannot do this, because one chat request is one
conversation. For chat, send one request per conversation, ask several
questions in one message and request a JSON answer, or use the Batch API.

The answers may come back in any order. Every completions choice carries an
`index`: with `n` choices per prompt, choice `index` belongs to prompt
`index // n`, as its `index % n`-th answer. Every embedding carries the `index`
of its input. This module matches by `index` and never by position, and it
reports a prompt without an answer as missing instead of inventing one.

Splitting respects two limits per request: how many items it may hold, and its
admission charge in tokens (see `ratelimit_toolkit.tokens`), so that a batch
never exceeds what the rate limiter can admit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ratelimit_toolkit.limiter import RateLimiter
from ratelimit_toolkit.tokens import count_input_tokens, estimate_request

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Prompts per completions request by default. OpenAI documents no limit for
#: the prompt list, so 20 is this module's choice, which keeps one response's
#: latency and one failure's cost moderate.
DEFAULT_MAX_PROMPTS_PER_REQUEST = 20

#: Inputs per embeddings request: OpenAI's limit ("any array must be 2048
#: dimensions or less", openai-python 3.x `embeddings.create` docstring).
MAX_EMBEDDING_INPUTS = 2048

#: Tokens per embeddings request, summed over its inputs: OpenAI's limit (same docstring).
MAX_EMBEDDING_TOKENS_PER_REQUEST = 300_000

#: Batches the async helpers keep in flight at once by default.
DEFAULT_CONCURRENCY = 4

Retry = Callable[[Callable[[], Any]], Callable[[], Any]]


@dataclass(frozen=True)
class Batch:
    """A run of consecutive items sent as one request.

    Attributes:
        start: position of the first item in the whole list.
        items: the prompts or inputs.
        tokens: the request's admission charge in tokens.
    """

    start: int
    items: list[Any]
    tokens: int

    @property
    def stop(self) -> int:
        """Position after the last item in the whole list."""
        return self.start + len(self.items)


@dataclass(frozen=True)
class BatchEvent:
    """One answered request.

    Attributes:
        seconds: when the response arrived, in seconds since the helper started.
        items: prompts or inputs the request carried.
        tokens: the `usage.total_tokens` it reported.
    """

    seconds: float
    items: int
    tokens: int


def _cumulative(events: list[BatchEvent], value: Callable[[BatchEvent], int]) -> list[tuple[float, int]]:
    ordered = sorted(events, key=lambda event: event.seconds)
    totals = itertools.accumulate(value(event) for event in ordered)
    return [(event.seconds, total) for event, total in zip(ordered, totals)]


@dataclass
class BatchedAnswers:
    """Completions answers, matched to their prompts.

    Attributes:
        answers: for each prompt, its answers in choice order (`index % n`),
            or None when none arrived. A list shorter than `n` means some of
            that prompt's choices are missing.
        missing: prompts with fewer than `n` answers, in prompt order.
        requests: API requests made.
        total_tokens: the `usage.total_tokens` the responses reported.
        events: one entry per answered request, for plots of throughput over time.
    """

    answers: list[list[str] | None]
    missing: list[int] = field(default_factory=list)
    requests: int = 0
    total_tokens: int = 0
    events: list[BatchEvent] = field(default_factory=list)

    def first_answers(self) -> list[str | None]:
        """Return each prompt's first answer, or None, which suits requests with `n` of 1."""
        return [texts[0] if texts else None for texts in self.answers]

    def prompts_over_time(self) -> list[tuple[float, int]]:
        """Return `(seconds, prompts answered so far)` points, as `plots.plot_throughput` takes them."""
        return _cumulative(self.events, lambda event: event.items)

    def tokens_over_time(self) -> list[tuple[float, int]]:
        """Return `(seconds, tokens used so far)` points."""
        return _cumulative(self.events, lambda event: event.tokens)

    def requests_over_time(self) -> list[tuple[float, int]]:
        """Return `(seconds, requests answered so far)` points."""
        return _cumulative(self.events, lambda event: 1)


@dataclass
class EmbeddedInputs:
    """Embeddings, matched to their inputs.

    Attributes:
        vectors: for each input, its embedding, or None when none arrived.
        missing: inputs without an embedding, in input order.
        requests: API requests made.
        total_tokens: the `usage.total_tokens` the responses reported.
        events: one entry per answered request.
    """

    vectors: list[list[float] | None]
    missing: list[int] = field(default_factory=list)
    requests: int = 0
    total_tokens: int = 0
    events: list[BatchEvent] = field(default_factory=list)


# --- Planning ------------------------------------------------------------------


def split_into_batches(
    items: Sequence[T],
    charges: Sequence[int],
    *,
    max_items: int,
    max_tokens: int | None = None,
) -> list[Batch]:
    """Split `items` into consecutive batches of at most `max_items` and `max_tokens`.

    Args:
        items: the prompts or inputs, in order.
        charges: each item's share of the admission charge, in tokens.
        max_items: maximum items per batch, at least 1.
        max_tokens: maximum tokens per batch, or None for no token limit.

    Raises:
        ValueError: the lengths differ, a limit is below 1, or one item alone
            exceeds `max_tokens` (the message names the item and both numbers).
    """
    _check_split_arguments(items, charges, max_items, max_tokens)
    batches: list[Batch] = []
    start, tokens = 0, 0
    for position, charge in enumerate(charges):
        if max_tokens is not None and charge > max_tokens:
            raise ValueError(
                f"item {position} alone needs {charge} tokens, more than max_tokens={max_tokens}; "
                "shorten it, lower max_tokens per answer, or raise the token budget"
            )
        full = position - start >= max_items or (max_tokens is not None and tokens + charge > max_tokens)
        if full:
            batches.append(Batch(start, list(items[start:position]), tokens))
            start, tokens = position, 0
        tokens += charge
    if start < len(items):
        batches.append(Batch(start, list(items[start:]), tokens))
    return batches


def _check_split_arguments(items: Sequence[Any], charges: Sequence[int], max_items: int, max_tokens: int | None) -> None:
    if len(items) != len(charges):
        raise ValueError(f"got {len(items)} items but {len(charges)} charges; give one charge per item")
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise ValueError(f"max_items must be an integer >= 1, got {max_items!r}")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, float))
                                   or max_tokens < 1):
        raise ValueError(f"max_tokens must be a number >= 1 or None, got {max_tokens!r}")


def plan_completion_batches(
    prompts: Sequence[str],
    *,
    model: str,
    max_tokens: int = 16,
    n: int = 1,
    max_prompts_per_request: int = DEFAULT_MAX_PROMPTS_PER_REQUEST,
    max_tokens_per_request: int | None = None,
) -> list[Batch]:
    """Split prompts into completions requests, charging each prompt its tokens plus `max_tokens * n`.

    Raises:
        ValueError: a prompt alone exceeds `max_tokens_per_request`.
        TokenEstimateError: a prompt is not a string or token list.
    """
    _check_item_list(prompts, "prompts")
    if not prompts:
        return []
    body = {"model": model, "prompt": list(prompts), "max_tokens": max_tokens, "n": n}
    estimate = estimate_request("completions", body)
    charges = [tokens + estimate.completion_tokens_per_input for tokens in estimate.prompt_tokens_per_input]
    return split_into_batches(prompts, charges, max_items=max_prompts_per_request, max_tokens=max_tokens_per_request)


def plan_embedding_batches(
    inputs: Sequence[str | list[int]],
    *,
    model: str,
    max_inputs_per_request: int = MAX_EMBEDDING_INPUTS,
    max_tokens_per_request: int | None = MAX_EMBEDDING_TOKENS_PER_REQUEST,
) -> list[Batch]:
    """Split embedding inputs into requests within OpenAI's per-request limits (or smaller ones).

    Raises:
        ValueError: an input alone exceeds `max_tokens_per_request`.
        TokenEstimateError: an input is not a string or token list.
    """
    _check_item_list(inputs, "inputs")
    if not inputs:
        return []
    charges = count_input_tokens(list(inputs), model, field="input")
    if len(charges) != len(inputs):  # a flat list of ints is one token array, so one input
        raise ValueError("inputs must be a list of strings or of token lists, one per input")
    return split_into_batches(inputs, charges, max_items=max_inputs_per_request, max_tokens=max_tokens_per_request)


def _check_item_list(items: object, name: str) -> None:
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValueError(f"{name} must be a list, got {type(items).__name__}; wrap a single one in a list")


# --- Matching by index ---------------------------------------------------------


def match_choices(choices: Iterable[Any], prompt_count: int, n: int = 1) -> BatchedAnswers:
    """Match completions choices to prompts by `index`, whatever order they arrived in.

    Args:
        choices: the response's choices, objects or dicts with `index` and `text`.
        prompt_count: how many prompts the request had.
        n: choices per prompt.

    Raises:
        ValueError: an index is missing, not an integer, outside
            `0 .. prompt_count * n - 1`, or repeated.
    """
    slots = _fill_slots(((_field(choice, "index"), _field(choice, "text")) for choice in choices), prompt_count * n)
    answers: list[list[str] | None] = []
    missing: list[int] = []
    for prompt in range(prompt_count):
        texts = [text for text in slots[prompt * n:(prompt + 1) * n] if text is not None]
        answers.append(texts or None)
        if len(texts) < n:
            missing.append(prompt)
    return BatchedAnswers(answers=answers, missing=missing)


def match_embeddings(data: Iterable[Any], input_count: int) -> EmbeddedInputs:
    """Match embeddings to inputs by `index`.

    Raises:
        ValueError: an index is missing, not an integer, out of range, or repeated.
    """
    slots = _fill_slots(((_field(item, "index"), _field(item, "embedding")) for item in data), input_count)
    missing = [position for position, vector in enumerate(slots) if vector is None]
    return EmbeddedInputs(vectors=slots, missing=missing)


def _fill_slots(pairs: Iterable[tuple[Any, Any]], size: int) -> list[Any]:
    slots: list[Any] = [None] * size
    for index, value in pairs:
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"index in the response must be an integer, got {index!r}")
        if not 0 <= index < size:
            raise ValueError(
                f"index {index} in the response is outside 0..{size - 1}: the request had {size} slots "
                "(prompts times n, or inputs); check that the response belongs to this request"
            )
        if slots[index] is not None:
            raise ValueError(f"index {index} appears twice in one response")
        slots[index] = value
    return slots


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


# --- Sending -------------------------------------------------------------------


def complete_prompts(
    client: Any,
    prompts: Sequence[str],
    *,
    model: str,
    max_tokens: int = 16,
    n: int = 1,
    limiter: RateLimiter | None = None,
    retry: Retry | None = None,
    max_prompts_per_request: int = DEFAULT_MAX_PROMPTS_PER_REQUEST,
    max_tokens_per_request: int | None = None,
    **params: Any,
) -> BatchedAnswers:
    """Send `prompts` to `/v1/completions` in batches, one request at a time, and match the answers.

    Args:
        client: an `openai.OpenAI` client; give it `max_retries=0` when `retry` is set,
            so only one layer retries.
        prompts: the prompts, in order; answers come back in the same order.
        model: a completions model, e.g. `gpt-3.5-turbo-instruct`.
        max_tokens: the output cap per answer.
        n: answers per prompt.
        limiter: when given, each batch waits for its admission charge and
            every response's headers go to `limiter.observe`.
        retry: a retry decorator from `ratelimit_toolkit.retry`, applied to each
            batch's request (the limiter is consulted again on every attempt).
        max_prompts_per_request: maximum prompts in one request.
        max_tokens_per_request: most tokens one request may be charged;
            defaults to the limiter's tokens per minute, the most it can admit.
        **params: other `completions.create` arguments (`temperature`, `stop`, ...).

    Returns:
        The answers by prompt; prompts whose answers did not all arrive are in `missing`.
    """
    batches = plan_completion_batches(
        prompts, model=model, max_tokens=max_tokens, n=n, max_prompts_per_request=max_prompts_per_request,
        max_tokens_per_request=_token_budget(max_tokens_per_request, limiter),
    )
    result = BatchedAnswers(answers=[None] * len(prompts))
    started = time.monotonic()
    for batch in batches:

        def send_once(batch: Batch = batch) -> Any:
            if limiter is not None:
                limiter.acquire(batch.tokens)
            raw = client.completions.with_raw_response.create(
                model=model, prompt=batch.items, max_tokens=max_tokens, n=n, **params
            )
            return _observe_and_parse(raw, limiter)

        response = (retry(send_once) if retry else send_once)()
        _merge_completion(result, batch, response, n, started)
    logger.info("sent %d prompts in %d completions requests; %d missing", len(prompts), result.requests,
                len(result.missing))
    return result


async def acomplete_prompts(
    client: Any,
    prompts: Sequence[str],
    *,
    model: str,
    max_tokens: int = 16,
    n: int = 1,
    limiter: RateLimiter | None = None,
    retry: Retry | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_prompts_per_request: int = DEFAULT_MAX_PROMPTS_PER_REQUEST,
    max_tokens_per_request: int | None = None,
    **params: Any,
) -> BatchedAnswers:
    """Send `prompts` like `complete_prompts` does, from asyncio, with up to `concurrency` batches in flight.

    `client` is an `openai.AsyncOpenAI`. `retry` must accept `async`
    functions, as every strategy in `ratelimit_toolkit.retry` does.
    """
    batches = plan_completion_batches(
        prompts, model=model, max_tokens=max_tokens, n=n, max_prompts_per_request=max_prompts_per_request,
        max_tokens_per_request=_token_budget(max_tokens_per_request, limiter),
    )
    _check_concurrency(concurrency)
    result = BatchedAnswers(answers=[None] * len(prompts))
    started = time.monotonic()

    async def send(batch: Batch) -> None:
        async def send_once() -> Any:
            if limiter is not None:
                await limiter.acquire_async(batch.tokens)
            raw = await client.completions.with_raw_response.create(
                model=model, prompt=batch.items, max_tokens=max_tokens, n=n, **params
            )
            return _observe_and_parse(raw, limiter)

        response = await (retry(send_once) if retry else send_once)()
        _merge_completion(result, batch, response, n, started)

    await _run_bounded(send, batches, concurrency)
    return result


def embed_inputs(
    client: Any,
    inputs: Sequence[str | list[int]],
    *,
    model: str,
    limiter: RateLimiter | None = None,
    retry: Retry | None = None,
    max_inputs_per_request: int = MAX_EMBEDDING_INPUTS,
    max_tokens_per_request: int | None = MAX_EMBEDDING_TOKENS_PER_REQUEST,
    **params: Any,
) -> EmbeddedInputs:
    """Embed `inputs` in batches, one request at a time, and match the vectors by `index`.

    Arguments as in `complete_prompts`. The token budget is also capped by the
    limiter's tokens per minute when one is given.
    """
    batches = plan_embedding_batches(
        inputs, model=model, max_inputs_per_request=max_inputs_per_request,
        max_tokens_per_request=_token_budget(max_tokens_per_request, limiter),
    )
    result = EmbeddedInputs(vectors=[None] * len(inputs))
    started = time.monotonic()
    for batch in batches:

        def send_once(batch: Batch = batch) -> Any:
            if limiter is not None:
                limiter.acquire(batch.tokens)
            raw = client.embeddings.with_raw_response.create(model=model, input=batch.items, **params)
            return _observe_and_parse(raw, limiter)

        response = (retry(send_once) if retry else send_once)()
        _merge_embeddings(result, batch, response, started)
    return result


async def aembed_inputs(
    client: Any,
    inputs: Sequence[str | list[int]],
    *,
    model: str,
    limiter: RateLimiter | None = None,
    retry: Retry | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_inputs_per_request: int = MAX_EMBEDDING_INPUTS,
    max_tokens_per_request: int | None = MAX_EMBEDDING_TOKENS_PER_REQUEST,
    **params: Any,
) -> EmbeddedInputs:
    """Embed `inputs` like `embed_inputs` does, from asyncio, with up to `concurrency` batches in flight."""
    batches = plan_embedding_batches(
        inputs, model=model, max_inputs_per_request=max_inputs_per_request,
        max_tokens_per_request=_token_budget(max_tokens_per_request, limiter),
    )
    _check_concurrency(concurrency)
    result = EmbeddedInputs(vectors=[None] * len(inputs))
    started = time.monotonic()

    async def send(batch: Batch) -> None:
        async def send_once() -> Any:
            if limiter is not None:
                await limiter.acquire_async(batch.tokens)
            raw = await client.embeddings.with_raw_response.create(model=model, input=batch.items, **params)
            return _observe_and_parse(raw, limiter)

        response = await (retry(send_once) if retry else send_once)()
        _merge_embeddings(result, batch, response, started)

    await _run_bounded(send, batches, concurrency)
    return result


def _token_budget(max_tokens_per_request: int | None, limiter: RateLimiter | None) -> int | None:
    limit = None if limiter is None else limiter.tokens_per_minute
    if limit is None:
        return max_tokens_per_request
    if max_tokens_per_request is None:
        return int(limit)
    return min(max_tokens_per_request, int(limit))


def _observe_and_parse(raw: Any, limiter: RateLimiter | None) -> Any:
    if limiter is not None:
        limiter.observe(raw.headers)
    return raw.parse()


def _merge_completion(result: BatchedAnswers, batch: Batch, response: Any, n: int, started: float) -> None:
    matched = match_choices(response.choices, len(batch.items), n)
    result.answers[batch.start:batch.stop] = matched.answers
    result.missing = sorted(set(result.missing) | {batch.start + position for position in matched.missing})
    result.requests += 1
    result.total_tokens += _usage_tokens(response)
    result.events.append(BatchEvent(time.monotonic() - started, len(batch.items), _usage_tokens(response)))
    if matched.missing:
        logger.warning("completions request for prompts %d..%d left %d prompts without all %d answers",
                       batch.start, batch.stop - 1, len(matched.missing), n)


def _merge_embeddings(result: EmbeddedInputs, batch: Batch, response: Any, started: float) -> None:
    matched = match_embeddings(response.data, len(batch.items))
    result.vectors[batch.start:batch.stop] = matched.vectors
    result.missing = sorted(set(result.missing) | {batch.start + position for position in matched.missing})
    result.requests += 1
    result.total_tokens += _usage_tokens(response)
    result.events.append(BatchEvent(time.monotonic() - started, len(batch.items), _usage_tokens(response)))


def _usage_tokens(response: Any) -> int:
    usage = getattr(response, "usage", None)
    return int(getattr(usage, "total_tokens", 0) or 0)


def _check_concurrency(concurrency: object) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")


async def _run_bounded(send: Callable[[Batch], Awaitable[None]], batches: list[Batch], concurrency: int) -> None:
    """Send every batch with at most `concurrency` in flight; the first error cancels the rest."""
    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(batch: Batch) -> None:
        async with semaphore:
            await send(batch)

    tasks = [asyncio.ensure_future(bounded(batch)) for batch in batches]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
