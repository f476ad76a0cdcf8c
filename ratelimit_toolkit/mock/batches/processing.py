"""Run one batch on the mock server's event loop: validate, run each request, write the files.

A batch moves through `validating`, then `in_progress` (or `failed`), then
`finalizing` and `completed`. It ends `expired` when its completion window
(or `batch_expire_after_requests`) runs out first, and `cancelling`, then
`cancelled`, after a cancel request. Requests run in order, `1 /
batch_seconds_per_request` per second of wall time, and each answer comes from
the same generator as `POST /v1/chat/completions`. Output and error files are
written once, when the batch ends, with their lines in a shuffled order,
because OpenAI does not promise input order either.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ratelimit_toolkit.mock import payloads
from ratelimit_toolkit.mock.batches.shapes import output_line, token_limit_message, unrun_line
from ratelimit_toolkit.mock.batches.store import BatchRecord, BatchStore
from ratelimit_toolkit.mock.batches.validation import BatchTask, FileCheck, check_input_file
from ratelimit_toolkit.mock.generation import generate
from ratelimit_toolkit.mock.settings import MockSettings
from ratelimit_toolkit.mock.state import MockState
from ratelimit_toolkit.mock.validation import RequestRejected, estimate_charge, validate_body

logger = logging.getLogger(__name__)

#: Requests run between two yields to the event loop, so the server keeps serving other requests.
CHUNK_REQUESTS = 200

#: Seconds between two progress steps of a batch whose requests take time.
TICK_SECONDS = 0.02

_EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."
_CANCELLED_MESSAGE = "This request was not executed because the batch was cancelled."


@dataclass
class _Outcome:
    """The output-file and error-file lines of a batch, filled in as requests run."""

    output: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class BatchRun:
    """The task body of one batch."""

    def __init__(self, batch: BatchRecord, store: BatchStore, state: MockState) -> None:
        self.batch = batch
        self.store = store
        self.state = state
        self.outcome = _Outcome()

    async def run(self) -> None:
        """Take the batch from `validating` to a final status; a bug here fails the batch instead of hanging it."""
        batch = self.batch
        logger.info("batch %s started (%s, file %s)", batch.id, batch.endpoint, batch.input_file_id)
        try:
            await self._run()
        except Exception:  # the batch must still end, or its client would poll forever
            logger.exception("mock server failed while running batch %s", batch.id)
            batch.errors = [{"code": "server_error", "message": "The mock server failed while running this batch; "
                             "its log has the details.", "param": None, "line": None}]
            batch.move_to("failed")

    async def _run(self) -> None:
        batch = self.batch
        await _sleep(self.settings.batch_validating_seconds)
        if batch.cancel_requested:
            await self._finish_cancelled([])
            return
        tasks = self._validate()
        if tasks is None:
            return

        batch.move_to("in_progress")
        remaining = await self._run_tasks(tasks)
        if batch.cancel_requested:
            await self._finish_cancelled(remaining)
        elif remaining:
            self._finish_expired(remaining)
        else:
            await self._finish_completed()

    @property
    def settings(self) -> MockSettings:
        return self.state.settings

    def _validate(self) -> list[BatchTask] | None:
        """Check the input file; fail the batch and return None when it breaks a rule."""
        batch, settings = self.batch, self.settings
        stored = self.store.files.get(batch.input_file_id)
        if stored is None:  # deleted between the create call and validation
            check = FileCheck()
            check.reject("file_not_found", f"The input file {batch.input_file_id} was deleted before validation.")
        else:
            check = check_input_file(stored.data, batch.endpoint, max_requests=settings.batch_max_requests,
                                     max_bytes=settings.batch_max_file_bytes)
        batch.model = check.model
        if not check.errors and check.model is not None:
            self._check_enqueued_tokens(check.model, check.prompt_tokens, check.errors)
        if check.errors:
            batch.errors = check.errors
            batch.move_to("failed")
            logger.info("batch %s failed validation: %d errors, first: %s", batch.id, len(check.errors),
                        check.errors[0]["message"])
            return None

        batch.total = len(check.tasks)
        batch.prompt_tokens = check.prompt_tokens
        return check.tasks

    def _check_enqueued_tokens(self, model: str, prompt_tokens: int, errors: list[dict[str, Any]]) -> None:
        limit = self.settings.batch_enqueued_token_limit
        enqueued = self.store.enqueued_prompt_tokens(model, excluding=self.batch.id)
        if enqueued + prompt_tokens > limit:
            message = token_limit_message(model, self.settings.organization, limit)
            errors.append({"code": "token_limit_exceeded", "message": message, "param": None, "line": None})

    async def _run_tasks(self, tasks: list[BatchTask]) -> list[BatchTask]:
        """Run the requests in order until done, cancelled or expired; return those not run."""
        started = time.monotonic()
        done = 0
        while done < len(tasks) and not self._stops(done, started):
            due = self._due_requests(started, len(tasks))
            end = min(due, done + CHUNK_REQUESTS)
            for task in tasks[done:end]:
                self._run_task(task)
            done = max(done, end)
            await asyncio.sleep(TICK_SECONDS if done >= due and done < len(tasks) else 0)
        return tasks[done:]

    def _stops(self, done: int, started: float) -> bool:
        settings = self.settings
        if self.batch.cancel_requested:
            return True
        if settings.batch_expire_after_requests is not None and done >= settings.batch_expire_after_requests:
            return True
        return time.monotonic() - started > settings.batch_completion_window_seconds

    def _due_requests(self, started: float, total: int) -> int:
        """How many requests should have run by now at `batch_seconds_per_request`."""
        seconds_per_request = self.settings.batch_seconds_per_request
        due = total
        if seconds_per_request > 0:
            due = min(total, int((time.monotonic() - started) / seconds_per_request) + 1)
        limit = self.settings.batch_expire_after_requests
        return due if limit is None else min(due, limit)

    def _run_task(self, task: BatchTask) -> None:
        status, body = respond(task, self.batch.endpoint, self.settings)
        request_id = f"req_{payloads.new_id('')}"
        line = output_line(payloads.new_id("batch_req_"), task.custom_id, status, request_id, body)
        if 200 <= status < 300:
            self.batch.completed += 1
            self.batch.usage.input_tokens += body["usage"]["prompt_tokens"]
            self.batch.usage.output_tokens += body["usage"].get("completion_tokens", 0)
            self.outcome.output.append(line)
        else:
            self.batch.failed += 1
            self.outcome.errors.append(line)

    async def _finish_completed(self) -> None:
        self.batch.move_to("finalizing")
        await _sleep(self.settings.batch_finalizing_seconds)
        self._write_files()
        self.batch.move_to("completed")
        self._log_end()

    def _finish_expired(self, remaining: list[BatchTask]) -> None:
        for task in remaining:
            line = unrun_line(payloads.new_id("batch_req_"), task.custom_id, "batch_expired", _EXPIRED_MESSAGE)
            self.outcome.errors.append(line)
        self._write_files()
        self.batch.move_to("expired")
        self._log_end()

    async def _finish_cancelled(self, remaining: list[BatchTask]) -> None:
        if self.batch.status != "cancelling":
            self.batch.move_to("cancelling")
        await _sleep(self.settings.batch_finalizing_seconds)
        for task in remaining:
            line = unrun_line(payloads.new_id("batch_req_"), task.custom_id, "batch_cancelled", _CANCELLED_MESSAGE)
            self.outcome.errors.append(line)
        self._write_files()
        self.batch.move_to("cancelled")
        self._log_end()

    def _write_files(self) -> None:
        batch = self.batch
        shuffler = random.Random(batch.id)
        for lines, suffix, attribute in ((self.outcome.output, "output", "output_file_id"),
                                         (self.outcome.errors, "error", "error_file_id")):
            if not lines:
                continue
            shuffler.shuffle(lines)
            data = b"".join(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in lines)
            stored = self.store.add_file(f"{batch.id}_{suffix}.jsonl", "batch_output", data)
            setattr(batch, attribute, stored.id)

    def _log_end(self) -> None:
        batch = self.batch
        logger.info("batch %s %s: %d of %d requests completed, %d failed", batch.id, batch.status,
                    batch.completed, batch.total, batch.failed)


def respond(task: BatchTask, endpoint: str, settings: MockSettings) -> tuple[int, dict[str, Any]]:
    """Build the response to one batch request as the live endpoint would, or fail it on purpose.

    Returns:
        The HTTP status and the response body.
    """
    if _fails_on_purpose(task.custom_id, settings):
        request_id = f"req_{payloads.new_id('')}"
        return 500, payloads.error_body(
            f"The server had an error while processing your request (request id {request_id}); "
            "the mock server failed it on purpose (batch_failure_rate or batch_failing_custom_ids).",
            "server_error",
        )

    path = endpoint.removeprefix("/v1/")
    try:
        validate_body(path, task.body)
        estimate = estimate_charge(path, task.body)
    except RequestRejected as rejection:
        return rejection.status, rejection.body
    return 200, generate(path, task.body, estimate, settings).body


def _fails_on_purpose(custom_id: str, settings: MockSettings) -> bool:
    pattern = settings.batch_failing_custom_ids
    if pattern is not None and re.search(pattern, custom_id):
        return True
    if settings.batch_failure_rate <= 0:
        return False
    # Seeded per custom_id, so a seeded server fails the same requests in every run.
    draw = random.Random(f"{settings.seed}|{custom_id}") if settings.seed is not None else random
    return draw.random() < settings.batch_failure_rate


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
