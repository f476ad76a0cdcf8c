"""Tables that set a `process` run and a Batch API run of the same job side by side, for notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ratelimit_toolkit.batch_api.costs import EXAMPLE_PRICES, Prices, cost_usd, usage_of
from ratelimit_toolkit.batch_api.summary import BatchSummary
from ratelimit_toolkit.processor.records import read_results
from ratelimit_toolkit.processor.summary import ProcessSummary


def paths_table(process_summary: ProcessSummary, process_output: str | Path, batch_summary: BatchSummary,
                batch_output: str | Path, *, enqueued_token_limit: int | None = None,
                prices: Prices = EXAMPLE_PRICES) -> list[dict[str, Any]]:
    """Build one row per path: wall time, answers, tokens, cost at `prices`, and the limits each path used.

    Token counts come from the `usage` of the responses in each output, so
    both rows count the same way. Costs are estimates at `prices`.
    """
    process_usage = usage_of(read_results(process_output))
    batch_usage = usage_of(read_results(batch_output))
    queue = f"{batch_summary.prompt_tokens_submitted:,}"
    if enqueued_token_limit is not None:
        queue += f" of {enqueued_token_limit:,}"
    return [
        {
            "path": "process",
            "seconds": round(process_summary.elapsed_seconds, 1),
            "answers": process_usage.responses,
            "prompt tokens": process_usage.prompt_tokens,
            "completion tokens": process_usage.completion_tokens,
            "cost (USD, example)": f"{cost_usd(process_usage, prices, batch=False):.4f}",
            "limits used": f"{process_summary.requests_per_minute:,.0f} RPM, {process_summary.tokens_per_minute:,.0f} TPM",
        },
        {
            "path": "Batch API",
            "seconds": round(batch_summary.elapsed_seconds, 1),
            "answers": batch_usage.responses,
            "prompt tokens": batch_usage.prompt_tokens,
            "completion tokens": batch_usage.completion_tokens,
            "cost (USD, example)": f"{cost_usd(batch_usage, prices, batch=True):.4f}",
            "limits used": f"0 RPM, 0 TPM; enqueued prompt tokens {queue}",
        },
    ]


def events_table(summary: BatchSummary) -> list[dict[str, Any]]:
    """Build one row per status change a run saw: seconds, part, status and request counts."""
    return [
        {"seconds": event.seconds, "part": event.part, "status": event.status, "completed": event.completed,
         "failed": event.failed}
        for event in summary.events
    ]
