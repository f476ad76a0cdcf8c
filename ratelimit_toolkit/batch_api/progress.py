"""The batch job's progress bar: requests done across its batches, with each batch's status."""

from __future__ import annotations

import sys
from collections import Counter

from tqdm import tqdm

from ratelimit_toolkit import messages
from ratelimit_toolkit.batch_api import texts  # noqa: F401  (registers the messages)


class BatchProgress:
    """A tqdm bar over requests whose postfix counts the batches by status.

    Request counts come from each batch's `request_counts` (completed plus
    failed), so the bar moves only as often as the job polls. With
    `enabled=False` it only keeps the counts.
    """

    def __init__(self, total: int, *, enabled: bool = True, lang: str | None = None) -> None:
        self._done: dict[int, int] = {}
        self._statuses: dict[int, str] = {}
        self._bar = tqdm(
            total=total,
            desc=messages.t("batch.progress", lang),
            unit="req",
            disable=not enabled,
            dynamic_ncols=True,
            # Outside a terminal (notebooks, CI logs) every refresh stays in the output, so refresh less.
            mininterval=0.1 if sys.stderr.isatty() else 1.0,
        )

    def report(self, part: int, status: str, done: int) -> None:
        """Record a part's batch status and its requests done, and move the bar."""
        self._done[part] = done
        self._statuses[part] = status
        self._bar.update(max(0, sum(self._done.values()) - self._bar.n))
        counts = Counter(self._statuses.values())
        self._bar.set_postfix_str(", ".join(f"{name} {count}" for name, count in sorted(counts.items())),
                                  refresh=False)

    def close(self) -> None:
        self._bar.close()
