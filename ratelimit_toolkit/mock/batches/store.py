"""The mock server's uploaded files and batches, kept in memory for the server's lifetime.

Everything here is touched only on the server's event loop thread, so it needs no lock.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from ratelimit_toolkit.mock.payloads import new_id

BatchStatus = Literal["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"]

#: Statuses after which a batch never changes again.
FINAL_STATUSES: frozenset[str] = frozenset({"failed", "completed", "expired", "cancelled"})

#: Statuses whose prompt tokens count against the enqueued token limit.
ENQUEUED_STATUSES: frozenset[str] = frozenset({"validating", "in_progress", "finalizing"})


def now_seconds() -> int:
    """Return the current Unix time in whole seconds, as OpenAI's timestamps are."""
    return int(time.time())


@dataclass
class StoredFile:
    """One uploaded or generated file."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int


@dataclass
class BatchUsage:
    """Token counts of the requests a batch ran."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class BatchRecord:
    """One batch and everything its `GET /v1/batches/{id}` body shows.

    Attributes:
        timestamps: `in_progress_at`, `finalizing_at`, `completed_at` and the
            other `*_at` fields, each set once when the batch reaches that status.
        errors: the validation errors of a failed batch, as `errors.data` items.
        prompt_tokens: estimated prompt tokens of every request, counted against
            the enqueued token limit while the batch is unfinished.
        cancel_requested: set by `POST /v1/batches/{id}/cancel`; the batch's
            task reads it between chunks of requests.
    """

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    metadata: dict[str, str] | None
    created_at: int
    expires_at: int
    status: BatchStatus = "validating"
    model: str | None = None
    timestamps: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    usage: BatchUsage = field(default_factory=BatchUsage)
    prompt_tokens: int = 0
    cancel_requested: bool = False

    def move_to(self, status: BatchStatus) -> None:
        """Change the status and stamp its `<status>_at` time (validating has none)."""
        self.status = status
        if status != "validating":
            self.timestamps[f"{status}_at"] = now_seconds()


class BatchStore:
    """The files and batches of one mock server, and the tasks that run the batches."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, BatchRecord] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def add_file(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        """Store `data` under a new file id."""
        stored = StoredFile(new_id("file-"), filename, purpose, data, now_seconds())
        self.files[stored.id] = stored
        return stored

    def add_batch(self, batch: BatchRecord) -> None:
        self.batches[batch.id] = batch

    def enqueued_prompt_tokens(self, model: str, *, excluding: str) -> int:
        """Sum the prompt tokens of the other unfinished batches of `model`.

        NOTE: this counts every batch on the server, whatever its API key or
        organisation, while OpenAI keeps this limit per organisation.
        """
        return sum(
            batch.prompt_tokens
            for batch in self.batches.values()
            if batch.model == model and batch.status in ENQUEUED_STATUSES and batch.id != excluding
        )

    def newest_first(self) -> list[BatchRecord]:
        """List the batches, the most recently created first."""
        return list(reversed(self.batches.values()))

    def keep_task(self, task: asyncio.Task[None]) -> None:
        """Hold a reference to a batch's task until it ends, so it is neither lost nor collected."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def cancel_tasks(self) -> None:
        """Cancel every running batch task and wait for them, at server shutdown."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
