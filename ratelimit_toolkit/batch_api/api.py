"""`run_batch_job`: hand a JSONL job to the Batch API and merge its results into the processor's output format."""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import openai

from ratelimit_toolkit.batch_api.calls import DEFAULT_CALL_POLICY, BatchCalls
from ratelimit_toolkit.batch_api.convert import check_endpoint
from ratelimit_toolkit.batch_api.job import BatchJob, JobFiles, JobOptions
from ratelimit_toolkit.batch_api.split import SplitLimits
from ratelimit_toolkit.batch_api.state import JobState, check_resumable, new_state, state_path_for, work_dir_for
from ratelimit_toolkit.batch_api.summary import BatchSummary
from ratelimit_toolkit.mock.batches.limits import COMPLETION_WINDOW, MAX_FILE_BYTES, MAX_REQUESTS_PER_FILE
from ratelimit_toolkit.processor.api import MissingApiKeyError
from ratelimit_toolkit.processor.inputs import count_input_lines
from ratelimit_toolkit.processor.records import ResultWriter
from ratelimit_toolkit.processor.resume import scan_output
from ratelimit_toolkit.retry import RetryPolicy

logger = logging.getLogger(__name__)

#: Metadata pairs a caller may add; OpenAI allows 16 and the job uses 2 for its own tags.
MAX_CALLER_METADATA_PAIRS = 14


def run_batch_job(
    input_path: str | Path,
    output_path: str | Path,
    *,
    client: openai.OpenAI | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    endpoint: str = "/v1/chat/completions",
    completion_window: str = COMPLETION_WINDOW,
    custom_id_field: str | None = None,
    max_requests_per_file: int = MAX_REQUESTS_PER_FILE,
    max_bytes_per_file: int = MAX_FILE_BYTES,
    max_prompt_tokens_per_file: int | None = None,
    max_enqueued_tokens: int | None = None,
    poll_interval_seconds: float = 5.0,
    max_poll_interval_seconds: float = 60.0,
    max_wait_seconds: float | None = None,
    wait: bool = True,
    cancel: bool = False,
    metadata: dict[str, str] | None = None,
    progress: bool = True,
    lang: str | None = None,
    call_policy: RetryPolicy = DEFAULT_CALL_POLICY,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> BatchSummary:
    """Run every unanswered line of a processor input file through the Batch API and append one record per line.

    The input and output are those of `process`: one request body per input
    line (its `metadata` is not sent), one record per line with `line`,
    `metadata`, `attempts` and `response` or `error`. Lines go into batch files
    of one model each, split at the per-file limits; each file is uploaded
    and run as one batch. The batches are polled with a backoff (`poll_*`)
    and a progress bar, and when a batch ends its output and error files are
    merged into the output. `read_results(output_path)` then returns the same
    shape whichever path ran.

    The job keeps its batch ids in `<output>.batches.json`. Rerunning with the
    same output polls those batches again instead of submitting new ones, and
    submits only lines that have no record and no running batch, such as
    lines of an expired or cancelled batch. An output written by `process`
    can be finished this way too.

    Batches do not count against the RPM and TPM limits. They have their own
    limit, the prompt tokens enqueued per model: a part the server refuses
    for it waits for another part of the job to finish and is submitted again.

    Args:
        input_path: the processor's JSONL input.
        output_path: the JSONL output, appended to (created when missing).
        client: an `openai.OpenAI` to use; None builds one from `base_url`
            and `api_key`. Give it `max_retries=0`, since `call_policy` retries.
        base_url: the API address; None reads `OPENAI_BASE_URL`, else OpenAI's.
        api_key: the API key; None reads `OPENAI_API_KEY`. It is sent only in
            the auth header and never saved.
        endpoint: the batch endpoint, such as `/v1/chat/completions`.
        completion_window: the batch's completion window; OpenAI accepts only `24h`.
        custom_id_field: take each request's `custom_id` from this metadata
            field instead of the line number; values must be unique within a part.
        max_requests_per_file: requests per batch file (OpenAI: at most 50,000).
        max_bytes_per_file: bytes per batch file (OpenAI: at most 200 MB).
        max_prompt_tokens_per_file: estimated prompt tokens per batch file, or None for no limit.
        max_enqueued_tokens: submit another part only while the running parts'
            estimated prompt tokens stay within this; None submits every part at once.
        poll_interval_seconds: the first wait between polls, and the wait after any change.
        max_poll_interval_seconds: the maximum wait between polls, reached after polls without change.
        max_wait_seconds: stop polling after this long, leaving the batches
            running for a rerun; None waits until every batch ends.
        wait: False submits and returns at once.
        cancel: cancel the job's running batches instead of submitting, then
            wait for them to stop and merge what they finished.
        metadata: extra batch metadata, at most 14 string pairs.
        progress: show a tqdm progress bar of requests done on stderr.
        lang: `en` or `ko` for the summary and notes; None reads the environment.
        call_policy: the retry policy of each API call.
        clock: monotonic seconds, for `max_wait_seconds` and the summary.
        sleep: sleeps between polls and between retries.
        rng: the random source for retry jitter.

    Returns:
        The run's summary; `summary.complete` tells whether every line now has a record.

    Raises:
        MissingApiKeyError: no client, no `api_key` and no `OPENAI_API_KEY`.
        ValueError: an argument is out of range, or the saved job used another
            input, endpoint, custom id field or server.
        FileNotFoundError: `input_path` does not exist.
        RuntimeError: another process is writing `output_path`.
        openai.APIError: an API call failed for good (after retries, or at
            once for errors such as 401); rerun to resume.
    """
    options = _options(endpoint, completion_window, custom_id_field, max_requests_per_file, max_bytes_per_file,
                       max_prompt_tokens_per_file, max_enqueued_tokens, poll_interval_seconds,
                       max_poll_interval_seconds, max_wait_seconds, wait, cancel, metadata, progress, lang)
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"input file {input_path} not found; pass a JSONL file with one request per line")

    own_client = client is None
    client = client or _make_client(base_url, api_key)
    try:
        return _run(input_path, output_path, client, options, call_policy, clock, sleep, rng)
    finally:
        if own_client:
            client.close()


def _run(input_path: Path, output_path: Path, client: openai.OpenAI, options: JobOptions, call_policy: RetryPolicy,
         clock: Callable[[], float], sleep: Callable[[float], None], rng: random.Random | None) -> BatchSummary:
    files = JobFiles(input_path, output_path, state_path_for(output_path), work_dir_for(output_path))
    server = display_url(str(client.base_url))
    state = _load_or_start(files, options, server)
    index = scan_output(output_path)
    summary = BatchSummary(input_lines=count_input_lines(input_path), answered_before=len(index.answered))
    logger.info("batch job %s: %s -> %s at %s, %d lines, %d answered before", state.job_id, input_path, output_path,
                server, summary.input_lines, summary.answered_before)

    started = clock()
    calls = BatchCalls(client, call_policy, sleep=sleep, rng=rng)
    try:
        with ResultWriter(output_path, secrets=[client.api_key]) as writer:
            BatchJob(files, options, calls, state, writer, index.answered, summary, clock=clock, sleep=sleep).run()
    except KeyboardInterrupt:
        summary.stop_reason = "interrupted"
        raise
    finally:
        summary.elapsed_seconds = clock() - started
        _remove_if_empty(files.work_dir)
        logger.info("batch job %s stopped after %.1fs: %d succeeded, %d failed, %d unanswered%s", state.job_id,
                    summary.elapsed_seconds, summary.succeeded, summary.failed_total, summary.unanswered,
                    f" ({summary.stop_reason})" if summary.stop_reason else "")
    return summary


def cancel_batch_job(input_path: str | Path, output_path: str | Path, **options: object) -> BatchSummary:
    """Cancel a job's running batches, wait for them to stop, and merge what they finished.

    Takes the arguments of `run_batch_job`; lines the batches did not run stay unanswered.
    """
    return run_batch_job(input_path, output_path, cancel=True, **options)  # type: ignore[arg-type]


def display_url(url: str) -> str:
    """Return `url` without user info, query or fragment, safe to log and save."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path.rstrip('/')}"


def _load_or_start(files: JobFiles, options: JobOptions, server: str) -> JobState:
    """Resume the saved job while it has unfinished parts; otherwise start a new one.

    A job whose parts are all done is only history: the output's records tell
    which lines are answered, so a new job (another server, say) may finish the rest.
    """
    state = JobState.load(files.state_path) if files.state_path.exists() else None
    if state is None or not state.active_parts:
        if state is not None:
            logger.info("batch job %s has no unfinished parts; starting a new job", state.job_id)
        return new_state(files.input_path, options.endpoint, options.custom_id_field, server)
    check_resumable(state, files.input_path, options.endpoint, options.custom_id_field, server, files.state_path)
    logger.info("resuming batch job %s: %d parts, %d not done", state.job_id, len(state.parts), len(state.active_parts))
    return state


def _make_client(base_url: str | None, api_key: str | None) -> openai.OpenAI:
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        raise MissingApiKeyError("no API key: set OPENAI_API_KEY or pass api_key=")
    # None lets the client read OPENAI_BASE_URL, as it does everywhere else.
    return openai.OpenAI(api_key=key, base_url=base_url or None, max_retries=0)


def _options(endpoint: str, completion_window: str, custom_id_field: str | None, max_requests_per_file: int,
             max_bytes_per_file: int, max_prompt_tokens_per_file: int | None, max_enqueued_tokens: int | None,
             poll_interval_seconds: float, max_poll_interval_seconds: float, max_wait_seconds: float | None,
             wait: bool, cancel: bool, metadata: dict[str, str] | None, progress: bool,
             lang: str | None) -> JobOptions:
    check_endpoint(endpoint)
    if not isinstance(completion_window, str) or not completion_window:
        raise ValueError(f"completion_window must be a string such as {COMPLETION_WINDOW!r}, got {completion_window!r}")
    if custom_id_field is not None and (not isinstance(custom_id_field, str) or not custom_id_field):
        raise ValueError(f"custom_id_field must be a metadata field name or None, got {custom_id_field!r}")
    for name, count in (("max_requests_per_file", max_requests_per_file), ("max_bytes_per_file", max_bytes_per_file),
                        ("max_prompt_tokens_per_file", max_prompt_tokens_per_file),
                        ("max_enqueued_tokens", max_enqueued_tokens)):
        _check_positive_count(name, count)
    _check_metadata(metadata)
    _check_seconds("poll_interval_seconds", poll_interval_seconds, allow_zero=False)
    _check_seconds("max_poll_interval_seconds", max_poll_interval_seconds, allow_zero=False)
    if max_wait_seconds is not None:
        _check_seconds("max_wait_seconds", max_wait_seconds, allow_zero=True)
    if max_poll_interval_seconds < poll_interval_seconds:
        raise ValueError(f"max_poll_interval_seconds ({max_poll_interval_seconds}) must be at least "
                         f"poll_interval_seconds ({poll_interval_seconds})")

    poll_policy = RetryPolicy(initial_wait=poll_interval_seconds, multiplier=1.5, max_wait=max_poll_interval_seconds,
                              jitter=None)
    limits = SplitLimits(max_requests_per_file, max_bytes_per_file, max_prompt_tokens_per_file)
    return JobOptions(endpoint, completion_window, custom_id_field, limits, max_enqueued_tokens, poll_policy,
                      max_wait_seconds, wait, cancel, metadata, progress, lang)


def _check_seconds(name: str, value: object, *, allow_zero: bool) -> None:
    valid = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not valid or value < 0 or (value == 0 and not allow_zero):  # type: ignore[operator]
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")


def _check_positive_count(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")


def _check_metadata(metadata: object) -> None:
    if metadata is None:
        return
    valid = isinstance(metadata, dict) and len(metadata) <= MAX_CALLER_METADATA_PAIRS and all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items())
    if not valid:
        raise ValueError(f"metadata must be a dict of at most {MAX_CALLER_METADATA_PAIRS} string pairs, got {metadata!r}")


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
