"""Hand a large JSONL job to the Batch API and merge its results into the processor's output format.

`run_batch_job(input, output, client=...)` converts the processor's input
lines into batch files, split at the per-file limits with one model per file.
It uploads them, creates the batches, and polls them with backoff and a
progress bar. It then appends one record per input line to the output, as
`process` does. Rerunning with the same output resumes from the saved batch ids.
`ratelimit-toolkit batch` does the same from a terminal.

Use `process` when answers are needed within minutes or the job is small;
use the Batch API when a day's wait is fine, the job is large, or the RPM and
TPM limits are the bottleneck: batches have their own limit and cost less.
"""

from __future__ import annotations

from ratelimit_toolkit.batch_api.api import cancel_batch_job, run_batch_job
from ratelimit_toolkit.batch_api.compare import Comparison, compare_results
from ratelimit_toolkit.batch_api.convert import BATCH_ENDPOINTS, LINE_ID_PREFIX, CustomIdError, convert_file
from ratelimit_toolkit.batch_api.costs import EXAMPLE_PRICES, PRICING_URL, Prices, TokenUsage, cost_usd, usage_of
from ratelimit_toolkit.batch_api.report import events_table, paths_table
from ratelimit_toolkit.batch_api.split import SplitLimits
from ratelimit_toolkit.batch_api.state import state_path_for
from ratelimit_toolkit.batch_api.summary import BatchSummary, StatusEvent

__all__ = [
    "BATCH_ENDPOINTS",
    "EXAMPLE_PRICES",
    "LINE_ID_PREFIX",
    "PRICING_URL",
    "BatchSummary",
    "Comparison",
    "CustomIdError",
    "Prices",
    "SplitLimits",
    "StatusEvent",
    "TokenUsage",
    "cancel_batch_job",
    "compare_results",
    "convert_file",
    "cost_usd",
    "events_table",
    "paths_table",
    "run_batch_job",
    "state_path_for",
    "usage_of",
]
