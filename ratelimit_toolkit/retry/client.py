"""`openai` clients that leave retrying to our decorators: `max_retries=0`."""

from __future__ import annotations

from typing import Any

from ratelimit_toolkit import messages
from ratelimit_toolkit._compat import openai

messages.register(
    {
        "retry.client_retries": {
            "en": (
                "max_retries={value} would make the openai client retry inside our retry decorator, "
                "multiplying attempts (3 of ours x 3 of the client = 9 requests). "
                "Leave max_retries out (it is 0 here), or use openai.OpenAI directly without our decorators."
            ),
            "ko": (
                "max_retries={value}이면 openai 클라이언트가 우리 재시도 데코레이터 안에서 다시 재시도하여 "
                "시도 횟수가 곱해집니다 (우리 3번 x 클라이언트 3번 = 요청 9번). "
                "max_retries를 빼거나(여기서는 0), 데코레이터 없이 openai.OpenAI를 직접 쓰세요."
            ),
        },
    }
)


def make_client(**kwargs: Any) -> openai.OpenAI:
    """Build an `openai.OpenAI` with `max_retries=0`, so our retry decorator is the only retry layer.

    The client retries 408, 409, 429 and 5xx responses twice by default. Inside
    a decorator that makes 3 attempts, each attempt would then be up to 3
    requests: 9 in all, with two sets of waits that do not know about each
    other. Every other keyword goes to `openai.OpenAI` unchanged.

    Raises:
        ValueError: `max_retries` is given and is not 0.
    """
    _reject_client_retries(kwargs)
    return openai.OpenAI(max_retries=0, **kwargs)


def make_async_client(**kwargs: Any) -> openai.AsyncOpenAI:
    """Build an `openai.AsyncOpenAI` with `max_retries=0`; see `make_client`."""
    _reject_client_retries(kwargs)
    return openai.AsyncOpenAI(max_retries=0, **kwargs)


def _reject_client_retries(kwargs: dict[str, Any]) -> None:
    value = kwargs.pop("max_retries", 0)
    if value != 0:
        raise ValueError(messages.t("retry.client_retries", value=value))
