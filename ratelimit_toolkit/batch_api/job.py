"""One run of a batch job: plan parts, upload them, create batches, poll them, merge their results.

The loop is a few named steps. `_plan` writes part files for lines that have
no record and no running batch. `_submit_ready` uploads parts and creates
their batches. `_poll_running` retrieves each running batch, and `_finish`
merges a batch that ended. The state file is saved after every step, so a run
can stop at any point and a rerun picks up the same batches.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openai
from openai.types import Batch

from ratelimit_toolkit.batch_api.calls import BatchCalls, job_metadata
from ratelimit_toolkit.batch_api.merge import load_results, merge_part, merge_validation_errors
from ratelimit_toolkit.batch_api.progress import BatchProgress
from ratelimit_toolkit.batch_api.split import SplitLimits, Splitter, part_file, rewrite_part_file
from ratelimit_toolkit.batch_api.state import FINAL_STATUSES, JobState, Part
from ratelimit_toolkit.batch_api.summary import BatchSummary, StatusEvent, StopReason
from ratelimit_toolkit.mock.batches.limits import COMPLETION_WINDOW
from ratelimit_toolkit.processor.inputs import InputLine
from ratelimit_toolkit.processor.records import ResultWriter, error_record
from ratelimit_toolkit.processor.resume import LineSet
from ratelimit_toolkit.retry import RetryPolicy

logger = logging.getLogger(__name__)

#: Waits between polls: 5 s at first, growing 1.5 times per poll without a
#: change, up to a minute, and back to 5 s after any change.
DEFAULT_POLL_POLICY = RetryPolicy(initial_wait=5.0, multiplier=1.5, max_wait=60.0, jitter=None)

#: Times the enqueued token limit may reject one part in one run before the part waits for the next run.
MAX_TOKEN_LIMIT_REJECTIONS = 3

_TOKEN_LIMIT_CODE = "token_limit_exceeded"
_LIMIT_IN_MESSAGE = re.compile(r"Limit:\s*([\d,]+)")


@dataclass(frozen=True)
class JobOptions:
    """Options of a batch job: splitting, submitting and waiting (see `run_batch_job` for each field)."""

    endpoint: str = "/v1/chat/completions"
    completion_window: str = COMPLETION_WINDOW
    custom_id_field: str | None = None
    limits: SplitLimits = field(default_factory=SplitLimits)
    max_enqueued_tokens: int | None = None
    poll_policy: RetryPolicy = DEFAULT_POLL_POLICY
    max_wait_seconds: float | None = None
    wait: bool = True
    cancel: bool = False
    metadata: dict[str, str] | None = None
    progress: bool = True
    lang: str | None = None


@dataclass(frozen=True)
class JobFiles:
    """The files of one job: input, output, state, and the folder for part files and downloads."""

    input_path: Path
    output_path: Path
    state_path: Path
    work_dir: Path


class BatchJob:
    """One run over one job's state."""

    def __init__(self, files: JobFiles, options: JobOptions, calls: BatchCalls, state: JobState,
                 writer: ResultWriter, answered: LineSet, summary: BatchSummary, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.files = files
        self.options = options
        self.calls = calls
        self.state = state
        self.writer = writer
        self.answered = answered
        self.summary = summary
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self._finished_parts = 0
        self._rejections: Counter[int] = Counter()
        self._rejected_at: dict[int, tuple[int, int]] = {}
        self._polls = 0
        self._given_up: set[int] = set()
        self._requests_done: dict[int, int] = {}
        self._progress: BatchProgress | None = None

    def run(self) -> None:
        """Plan and submit (or cancel), then poll until every batch ended or the run stops waiting."""
        if self.options.cancel:
            self._cancel_running()
        else:
            self._plan()
            self._submit_ready()
        if self.options.wait:
            self._poll_until_done()
        elif not self.options.cancel:
            self._stop("no_wait")
        self._fill_summary()

    def _plan(self) -> None:
        """Write part files for the lines with no record that no unfinished part holds."""
        covered = LineSet()
        for part in self.state.active_parts:
            for start, end in part.line_ranges:
                for line in range(start, end):
                    covered.add(line)

        splitter = Splitter(self.files.work_dir, self.options.endpoint, self.options.limits,
                            self.options.custom_id_field, self.state.next_index(), self._record_unsent)
        new_parts = splitter.split(self.files.input_path, lambda line: line in self.answered or line in covered)
        self.state.parts.extend(new_parts)
        self._save()
        if new_parts:
            logger.info("planned %d parts with %d requests", len(new_parts), sum(part.requests for part in new_parts))

    def _record_unsent(self, item: InputLine, kind: str, message: str) -> None:
        code = "request_too_large" if kind == "too_large" else kind
        self.writer.write(error_record(item.line, item.metadata, 0, kind=kind, code=code, message=message))
        self.answered.add(item.line)
        self.summary.unsent[kind] += 1

    def _submit_ready(self) -> None:
        for part in self.state.active_parts:
            if self._may_submit(part):
                self._submit(part)

    def _may_submit(self, part: Part) -> bool:
        if part.index in self._given_up or not (part.batch_id is None or part.waiting):
            return False
        running = [other for other in self.state.active_parts if other.running]
        if part.waiting and part.index in self._rejected_at:
            # A rejected part waits until another batch of this job ends and frees enqueued tokens,
            # or, with none running, for one poll interval.
            finished_then, polls_then = self._rejected_at[part.index]
            freed = self._finished_parts > finished_then if running else self._polls > polls_then
            if not freed:
                return False
        limit = self.options.max_enqueued_tokens
        enqueued = sum(other.prompt_tokens for other in running)
        return limit is None or not running or enqueued + part.prompt_tokens <= limit

    def _submit(self, part: Part, *, upload_again: bool = True) -> None:
        just_uploaded = part.input_file_id is None
        if part.input_file_id is None:
            self._upload(part)
        # A submission counted but never recorded means the run stopped during the create call.
        look_first = not just_uploaded and not part.waiting and part.submissions > 0
        if not look_first:
            part.submissions += 1
            self._save()

        # Each submission gets its own tag, so looking for a lost batch never finds an older, rejected one.
        metadata = job_metadata(self.state.job_id, f"{part.index}.{part.submissions}", self.options.metadata)
        try:
            batch, adopted = self.calls.create(part.input_file_id or "", self.options.endpoint,
                                               self.options.completion_window, metadata, look_first=look_first,
                                               created_after=self.state.created_at)
        except openai.NotFoundError:
            if not upload_again:
                raise
            logger.warning("the server lost file %s of part %d; uploading it again", part.input_file_id, part.index)
            part.input_file_id = None
            self._submit(part, upload_again=False)
            return

        part.batch_id = batch.id
        part.batch_ids.append(batch.id)
        part.waiting = False
        part.status = None
        if not adopted:
            self.summary.batches_created += 1
            self.summary.prompt_tokens_submitted += part.prompt_tokens
        self._observe(part, batch)
        self._save()

    def _upload(self, part: Part) -> None:
        path = part_file(self.files.work_dir, part.index)
        if not path.exists():
            rewrite_part_file(self.files.input_path, self.files.work_dir, part, self.options.endpoint,
                              self.options.custom_id_field)
        part.input_file_id = self.calls.upload(path)
        self._save()
        path.unlink(missing_ok=True)

    def _cancel_running(self) -> None:
        running = [part for part in self.state.active_parts if part.running]
        for part in running:
            try:
                self._observe(part, self.calls.cancel(part.batch_id or ""))
            except openai.ConflictError:
                logger.info("batch %s already finished; nothing to cancel", part.batch_id)
        self._save()
        self.summary.stop_reason = "cancelled"
        self.summary.add_note("batch.stop.cancelled", count=len(running))

    def _poll_until_done(self) -> None:
        total = sum(part.requests for part in self.state.active_parts)
        self._progress = BatchProgress(total, enabled=self.options.progress, lang=self.options.lang)
        quiet_polls = 0
        try:
            while True:
                changed = self._poll_running()
                if not self.options.cancel:
                    self._submit_ready()
                if not self._has_work():
                    return
                if self._out_of_time():
                    self._stop("max_wait")
                    return
                quiet_polls = 0 if changed else quiet_polls + 1
                self._sleep(self.options.poll_policy.backoff_seconds(quiet_polls + 1))
                self._polls += 1
        finally:
            self._progress.close()
            self._progress = None

    def _poll_running(self) -> bool:
        """Retrieve every running batch and finish those that ended; return True when anything changed."""
        changed = False
        for part in self.state.active_parts:
            if not part.submitted:
                continue
            try:
                batch = self.calls.retrieve(part.batch_id or "")
            except openai.NotFoundError:
                self._lost(part)
                changed = True
                continue
            changed = self._observe(part, batch) or changed
            if batch.status in FINAL_STATUSES:
                self._finish(part, batch)
        return changed

    def _observe(self, part: Part, batch: Batch) -> bool:
        """Note a batch's status and counts; return True when either changed."""
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts is not None else 0
        changed = batch.status != part.status or done != self._requests_done.get(part.index, 0)
        self._requests_done[part.index] = done
        if self._progress is not None:
            self._progress.report(part.index, batch.status, done)
        if batch.status != part.status:
            logger.info("batch %s (part %d): %s", batch.id, part.index, batch.status)
            part.status = batch.status
            self.summary.events.append(StatusEvent(
                round(self._clock() - self._started, 3), part.index, batch.id, batch.status,
                counts.completed if counts else 0, counts.failed if counts else 0,
            ))
            self._save()
        return changed

    def _finish(self, part: Part, batch: Batch) -> None:
        if batch.status == "failed":
            self._handle_failed(part, batch)
        else:
            self._merge(part, batch)

    def _merge(self, part: Part, batch: Batch) -> None:
        downloads = []
        for file_id, kind in ((batch.output_file_id, "output"), (batch.error_file_id, "error")):
            if file_id:
                self.files.work_dir.mkdir(parents=True, exist_ok=True)
                downloads.append(self.calls.download(file_id, self.files.work_dir / f"{batch.id}-{kind}.jsonl"))

        results = load_results(downloads)
        counts = merge_part(self.files.input_path, part, results, self.writer, self.answered,
                            self.options.custom_id_field)
        self.summary.merged.add(counts)
        self._mark_done(part)
        for path in downloads:
            path.unlink(missing_ok=True)
        logger.info("part %d merged from batch %s: %d succeeded, %d failed, %d not run", part.index, batch.id,
                    counts.succeeded, sum(counts.failed.values()), sum(counts.not_run.values()))

    def _handle_failed(self, part: Part, batch: Batch) -> None:
        errors = [error.model_dump() for error in (batch.errors.data or [])] if batch.errors else []
        rejection = next((error for error in errors if error.get("code") == _TOKEN_LIMIT_CODE), None)
        if rejection is not None:
            self._wait_for_enqueued_tokens(part, str(rejection.get("message") or ""))
            return

        counts = merge_validation_errors(self.files.input_path, part, errors, self.writer, self.answered)
        self.summary.merged.add(counts)
        message = str(errors[0].get("message")) if errors else "no errors listed"
        logger.warning("batch %s (part %d) failed validation with %d errors; first: %s", batch.id, part.index,
                       len(errors), message)
        self.summary.add_note("batch.note.validation", batch_id=batch.id, index=part.index, message=message)
        self._mark_done(part)

    def _wait_for_enqueued_tokens(self, part: Part, message: str) -> None:
        part.waiting = True
        self._save()
        self._rejections[part.index] += 1
        self._rejected_at[part.index] = (self._finished_parts, self._polls)
        match = _LIMIT_IN_MESSAGE.search(message)
        limit = int(match.group(1).replace(",", "")) if match else None
        logger.warning("part %d rejected by the enqueued token limit (%s); it waits for other batches to finish",
                       part.index, message)
        if limit is not None and part.prompt_tokens >= limit:
            self._given_up.add(part.index)
            self.summary.add_note("batch.note.token_limit_part", index=part.index, tokens=part.prompt_tokens,
                                  limit=limit)
        elif self._rejections[part.index] >= MAX_TOKEN_LIMIT_REJECTIONS:
            self._given_up.add(part.index)
            self.summary.add_note("batch.note.token_limit_wait", index=part.index, count=self._rejections[part.index])

    def _lost(self, part: Part) -> None:
        logger.warning("batch %s of part %d is unknown to the server; submitting the part again", part.batch_id,
                       part.index)
        self.summary.add_note("batch.note.lost", batch_id=part.batch_id, index=part.index)
        part.batch_id = None
        part.input_file_id = None
        part.status = None
        part.waiting = False
        self._save()

    def _mark_done(self, part: Part) -> None:
        part.done = True
        self._finished_parts += 1
        self._save()

    def _has_work(self) -> bool:
        for part in self.state.active_parts:
            if part.submitted:
                return True
            if not self.options.cancel and part.index not in self._given_up:
                return True
        return False

    def _out_of_time(self) -> bool:
        limit = self.options.max_wait_seconds
        return limit is not None and self._clock() - self._started >= limit

    def _stop(self, reason: StopReason) -> None:
        self.summary.stop_reason = reason
        running = sum(1 for part in self.state.active_parts if part.running)
        if reason == "max_wait":
            self.summary.add_note("batch.stop.max_wait", seconds=self._clock() - self._started, running=running)
        elif reason == "no_wait":
            self.summary.add_note("batch.stop.no_wait", running=running)
        logger.info("stopped polling (%s) with %d batches running", reason, running)

    def _fill_summary(self) -> None:
        summary = self.summary
        summary.parts = len(self.state.parts)
        summary.parts_done = sum(1 for part in self.state.parts if part.done)
        summary.running = sum(1 for part in self.state.active_parts if part.running)
        for part in self.state.parts:
            if part.batch_id is not None:
                summary.batch_ids[part.index] = part.batch_id
            if part.status is not None:
                summary.statuses[part.index] = part.status
        for reason, key in (("batch_expired", "batch.note.expired"), ("batch_cancelled", "batch.note.cancelled"),
                            ("missing", "batch.note.missing")):
            count = summary.merged.not_run[reason]
            if count:
                summary.add_note(key, count=count)

    def _save(self) -> None:
        self.state.save(self.files.state_path)
