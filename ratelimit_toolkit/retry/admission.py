"""A limiter in front of every attempt of a retried call: the charge, and the headers fed back.

The retry decorators take `limiter=` (any `Limiter`, such as `RateLimiter` or
`RedisRateLimiter`) and `tokens=`. Before each attempt, the run waits in
`limiter.acquire` (plain functions) or `limiter.acquire_async` (`async`
functions) for one request and the call's token charge (see `charge_for`).
An error the limiter raises there, such as `RequestTooLargeError`, is raised
at once without a retry.

After each attempt the run passes the response headers it can reach to
`limiter.observe`, so the limiter follows the server's `x-ratelimit-*` figures:

- errors that carry `.response.headers`: every `openai.APIStatusError`
  (429s included) and `httpx.HTTPStatusError`;
- results that carry `.headers`: an `openai` `with_raw_response` result or an
  `httpx.Response`. A parsed `openai` object such as `ChatCompletion` carries
  none, so a success feeds the limiter only when the wrapped function returns
  the raw response and the caller calls `.parse()` on it.

Connection errors and timeouts have no response, so nothing is observed for them.
`observe` is synchronous even around an `async` function, so a `RedisRateLimiter`
there blocks the event loop for one Redis round trip when it corrects its level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ratelimit_toolkit.limiter import Limiter, check_limiter
from ratelimit_toolkit.tokens import TokenEstimateError, estimate_request

logger = logging.getLogger(__name__)

#: The `tokens=` option: a fixed charge, a function of the call's arguments, or
#: None for the default (see `charge_for`).
TokenCharge = int | Callable[..., float] | None


def check_admission_options(limiter: object, tokens: object) -> Limiter | None:
    """Validate `limiter=` and `tokens=` when a function is decorated, and return the limiter.

    Raises:
        TypeError: `limiter` lacks a `Limiter` method, or `tokens` is given without a limiter.
        ValueError: `tokens` is not an integer >= 0, a callable or None.
    """
    if limiter is None:
        if tokens is not None:
            raise TypeError("tokens= has no effect without limiter=. Pass a limiter as well, or leave tokens out")
        return None
    is_count = isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0
    if not (tokens is None or is_count or callable(tokens)):
        raise ValueError(
            f"tokens must be an integer >= 0, a function of the call's arguments, or None, got {tokens!r}"
        )
    return check_limiter(limiter)


def charge_for(tokens: TokenCharge, args: tuple[Any, ...], kwargs: dict[str, Any]) -> float:
    """Return the tokens to acquire before each attempt of one call.

    - An integer is the charge of every call.
    - A callable is called once per call with the call's own arguments,
      `tokens(*args, **kwargs)`, and returns the charge.
    - None estimates the charge with `estimate_request` when the call looks
      like the `openai` client's `create`: keyword arguments `model` and a
      list of `messages` (chat completions) or `prompt` (legacy completions).
      Any other call is charged 0 tokens, so it counts only against the
      requests-per-minute limit, and the token level is corrected only by
      the headers `observe` receives.
    """
    if callable(tokens):
        return float(tokens(*args, **kwargs))
    if tokens is not None:
        return float(tokens)
    return float(_estimate_openai_call(kwargs))


def _estimate_openai_call(kwargs: Mapping[str, Any]) -> int:
    if "model" not in kwargs:
        return 0
    if isinstance(kwargs.get("messages"), list):
        endpoint = "chat/completions"
    elif "prompt" in kwargs:
        endpoint = "completions"
    else:
        return 0
    try:
        return estimate_request(endpoint, dict(kwargs)).total
    except TokenEstimateError as error:
        # The API rejects such a body as well, so the attempt costs little and is charged as 0 tokens.
        logger.debug("charging 0 tokens for a %s call whose body cannot be estimated: %s", endpoint, error)
        return 0


def headers_of_result(result: object) -> Mapping[str, str] | None:
    """Return the response headers a successful call's result carries, or None.

    A raw response has them: `client.chat.completions.with_raw_response.create(...)`
    in `openai`, an `httpx.Response`, an aiohttp response. A parsed `openai`
    object such as `ChatCompletion` has none, so nothing is observed for it.
    """
    headers = getattr(result, "headers", None)
    return headers if isinstance(headers, Mapping) else None


def headers_of_error(error: BaseException) -> Mapping[str, str] | None:
    """Return the response headers behind a failed call, or None when no response arrived.

    `openai.APIStatusError` and `httpx.HTTPStatusError` carry them as
    `error.response.headers`, aiohttp's `ClientResponseError` as `error.headers`.
    """
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) if response is not None else getattr(error, "headers", None)
    return headers if isinstance(headers, Mapping) else None
