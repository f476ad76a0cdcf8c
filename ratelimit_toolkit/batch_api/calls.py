"""The Files and Batches API calls a batch job makes, through the `openai` client, each retried with backoff.

Use a client with `max_retries=0`, so that the retry policy here is the only
layer that retries. Each call gives up at once on errors that waiting cannot
fix (401, 403, 404, an exhausted quota) and raises the `openai` exception.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import openai
from openai.types import Batch

from ratelimit_toolkit.retry import RetryPolicy, retry_with_exponential_backoff

logger = logging.getLogger(__name__)

R = TypeVar("R")

#: Metadata keys that tag each batch with its job and part, so a batch whose
#: create call timed out can be found again instead of being created twice.
JOB_METADATA_KEY = "ratelimit_toolkit_job"
PART_METADATA_KEY = "ratelimit_toolkit_part"

#: Seconds of clock difference allowed between client and server when listing batches created since the job began.
CLOCK_SKEW_SECONDS = 300

#: Retries of each call: quick at first, at most a minute apart, 8 attempts in all.
DEFAULT_CALL_POLICY = RetryPolicy(initial_wait=1.0, multiplier=2.0, max_wait=60.0, max_attempts=8)


class BatchCalls:
    """Upload, create, retrieve, cancel and download, each call retried under one `RetryPolicy`."""

    def __init__(
        self,
        client: openai.OpenAI,
        policy: RetryPolicy = DEFAULT_CALL_POLICY,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()

    def upload(self, path: Path) -> str:
        """Upload a batch input file and return its file id."""
        def call() -> str:
            with open(path, "rb") as handle:
                return self.client.files.create(file=(path.name, handle), purpose="batch").id

        file_id = self._retry(call)
        logger.info("uploaded %s (%d bytes) as %s", path.name, path.stat().st_size, file_id)
        return file_id

    def create(self, file_id: str, endpoint: str, window: str, metadata: dict[str, str],
               *, look_first: bool, created_after: int) -> tuple[Batch, bool]:
        """Create the batch of one part, or adopt the one an earlier attempt created.

        Before every attempt but the first (and before the first, with
        `look_first`), the recent batches are searched for this part's job and
        part metadata: a create call that timed out may still have created it.

        Returns:
            The batch, and True when it was found instead of created.
        """
        attempts = 0
        adopted = False

        def call() -> Batch:
            nonlocal attempts, adopted
            attempts += 1
            if look_first or attempts > 1:
                existing = self.find(metadata, created_after)
                if existing is not None:
                    logger.info("found batch %s created earlier for file %s; not creating another", existing.id, file_id)
                    adopted = True
                    return existing
            return self.client.batches.create(input_file_id=file_id, endpoint=endpoint,  # type: ignore[arg-type]
                                              completion_window=window, metadata=metadata)  # type: ignore[arg-type]

        batch = self._retry(call)
        if not adopted:
            logger.info("batch %s created for file %s (%s)", batch.id, file_id, batch.status)
        return batch, adopted

    def retrieve(self, batch_id: str) -> Batch:
        return self._retry(lambda: self.client.batches.retrieve(batch_id))

    def cancel(self, batch_id: str) -> Batch:
        batch = self._retry(lambda: self.client.batches.cancel(batch_id))
        logger.info("batch %s: cancel requested (%s)", batch_id, batch.status)
        return batch

    def download(self, file_id: str, destination: Path) -> Path:
        """Stream a file's content to `destination` and return it."""
        def call() -> None:
            with self.client.files.with_streaming_response.content(file_id) as response:
                response.stream_to_file(destination)

        self._retry(call)
        logger.info("downloaded %s (%d bytes)", file_id, destination.stat().st_size)
        return destination

    def find(self, metadata: dict[str, str], created_after: int) -> Batch | None:
        """Return the newest batch created since `created_after` whose metadata has these job and part tags."""
        wanted = {key: metadata.get(key) for key in (JOB_METADATA_KEY, PART_METADATA_KEY)}
        for batch in self.client.batches.list(limit=100):
            if batch.created_at < created_after - CLOCK_SKEW_SECONDS:
                return None  # the list is newest first, so older batches cannot belong to the job
            tags = {key: (batch.metadata or {}).get(key) for key in wanted}
            if tags == wanted:
                return batch
        return None

    def _retry(self, call: Callable[[], R]) -> R:
        policy = self.policy
        retrying = retry_with_exponential_backoff(
            call,
            initial_delay=policy.initial_wait,
            exponential_base=policy.multiplier,
            jitter=policy.jitter == "full",
            max_retries=policy.max_attempts - 1,
            max_delay=policy.max_wait,
            errors=(openai.APIError,),
            honor_server_wait=policy.honor_server_wait,
            max_total_seconds=policy.max_total_seconds,
            sleep=self._sleep,
            rng=self._rng,
        )
        return retrying()


def job_metadata(job_id: str, part_tag: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Build a batch's metadata: the caller's pairs plus the job id and the part tag (`<part>.<submission>`)."""
    return {**(extra or {}), JOB_METADATA_KEY: job_id, PART_METADATA_KEY: part_tag}
