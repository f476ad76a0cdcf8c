"""Estimate what a job's tokens cost on the normal API and on the Batch API.

Prices change. `EXAMPLE_PRICES` contains one model's list prices at one date,
to make the comparison concrete. Check OpenAI's pricing page for today's
prices and pass your own `Prices`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PRICING_URL = "https://openai.com/api/pricing/"


@dataclass(frozen=True)
class Prices:
    """Prices of one model, in US dollars per million tokens.

    Attributes:
        model: the model they apply to.
        input_per_million: the price of a million prompt tokens.
        output_per_million: the price of a million completion tokens.
        batch_factor: the Batch API's price as a fraction of the normal price.
        source: where and when these prices were stated.
    """

    model: str
    input_per_million: float
    output_per_million: float
    batch_factor: float
    source: str

    def __post_init__(self) -> None:
        for name in ("input_per_million", "output_per_million"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 dollars, got {getattr(self, name)!r}")
        if not 0 < self.batch_factor <= 1:
            raise ValueError(f"batch_factor must be in (0, 1], got {self.batch_factor!r}")


#: gpt-4o-mini's list prices announced at its launch on 18 July 2024, and the
#: Batch API's 50% discount. An example, not today's prices.
EXAMPLE_PRICES = Prices(
    model="gpt-4o-mini",
    input_per_million=0.15,
    output_per_million=0.60,
    batch_factor=0.5,
    source="gpt-4o-mini list prices at its launch, 18 July 2024; Batch API at 50% of the normal price",
)


@dataclass(frozen=True)
class TokenUsage:
    """Requests answered and the tokens their responses report in `usage`."""

    responses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def usage_of(records: Iterable[dict[str, Any]]) -> TokenUsage:
    """Sum `usage` over the records that have a response."""
    responses = prompt = completion = 0
    for record in records:
        body = record.get("response")
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            continue
        responses += 1
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
    return TokenUsage(responses, prompt, completion)


def cost_usd(usage: TokenUsage, prices: Prices, *, batch: bool) -> float:
    """Estimate the dollars `usage` costs at `prices`, on the Batch API when `batch` is true."""
    normal = (usage.prompt_tokens * prices.input_per_million + usage.completion_tokens * prices.output_per_million) / 1e6
    return normal * prices.batch_factor if batch else normal
