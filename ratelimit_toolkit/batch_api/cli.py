"""The `ratelimit-toolkit batch` subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import openai

from ratelimit_toolkit import messages
from ratelimit_toolkit.cli_types import positive_int, positive_number
from ratelimit_toolkit.batch_api import texts  # noqa: F401  (registers the messages)
from ratelimit_toolkit.batch_api.api import run_batch_job
from ratelimit_toolkit.batch_api.convert import BATCH_ENDPOINTS
from ratelimit_toolkit.mock.batches.limits import COMPLETION_WINDOW, MAX_FILE_BYTES, MAX_REQUESTS_PER_FILE
from ratelimit_toolkit.processor.api import MissingApiKeyError

#: Exit status after Ctrl-C, the shell's convention for SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
#: Exit status for invalid arguments or a missing key or input file.
EXIT_USAGE = 2
#: Exit status when an API call failed for good; the state file keeps the job for a rerun.
EXIT_API_ERROR = 3


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `batch` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "batch",
        help="run a JSONL file of requests through the Batch API and merge the results like `process`",
        description=(
            "Convert INPUT.jsonl (one request body per line, as for `process`) into Batch API files, "
            "upload them, create the batches, wait for them, and append one record per line to --output, "
            "in the format `process` writes. The batch ids are kept in RESULTS.jsonl.batches.json, so "
            "rerunning the same command resumes polling instead of submitting again. The server comes from "
            "--base-url or OPENAI_BASE_URL, the key from OPENAI_API_KEY. Exit status: 0 when every line has "
            "a response or a recorded error, 1 when some are still unanswered, 2 for invalid arguments, "
            "3 when an API call failed for good, 130 after Ctrl-C."
        ),
    )
    parser.add_argument("input", metavar="INPUT.jsonl", type=Path, help="one request body (JSON object) per line")
    parser.add_argument("--output", required=True, type=Path, metavar="RESULTS.jsonl",
                        help="file the records are appended to; reusing it resumes the job")
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help="API address such as http://127.0.0.1:8000/v1 (default: OPENAI_BASE_URL, else OpenAI)")
    parser.add_argument("--endpoint", default="/v1/chat/completions", choices=BATCH_ENDPOINTS,
                        help="endpoint every request goes to (default: /v1/chat/completions)")
    parser.add_argument("--completion-window", default=COMPLETION_WINDOW, metavar="WINDOW",
                        help=f"time the batch may take; OpenAI accepts only {COMPLETION_WINDOW} (default)")
    parser.add_argument("--custom-id-field", default=None, metavar="NAME",
                        help="take each custom_id from this metadata field instead of the line number")
    # SUPPRESS keeps the top-level `ratelimit-toolkit --lang` when this one is not given.
    parser.add_argument("--lang", choices=messages.LANGUAGES, default=argparse.SUPPRESS,
                        help="language of the summary and notes (default: from LANG)")
    _add_split_options(parser)
    _add_wait_options(parser)
    parser.set_defaults(handler=run_command)
    return parser


def _add_split_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("splitting")
    group.add_argument("--max-requests-per-file", type=positive_int, default=MAX_REQUESTS_PER_FILE, metavar="N",
                       help=f"requests per batch file (default and OpenAI's maximum: {MAX_REQUESTS_PER_FILE:,})")
    group.add_argument("--max-bytes-per-file", type=positive_int, default=MAX_FILE_BYTES, metavar="BYTES",
                       help=f"bytes per batch file (default and OpenAI's maximum: {MAX_FILE_BYTES:,})")
    group.add_argument("--max-prompt-tokens-per-file", type=positive_int, default=None, metavar="N",
                       help="estimated prompt tokens per batch file; set it below your enqueued token limit "
                            "(default: no limit)")
    group.add_argument("--max-enqueued-tokens", type=positive_int, default=None, metavar="N",
                       help="submit another file only while the running ones hold at most N estimated prompt "
                            "tokens (default: submit every file at once)")


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("waiting")
    group.add_argument("--poll-interval", type=positive_number, default=5.0, metavar="S",
                       help="first wait between status checks, in seconds; it grows 1.5 times per check "
                            "without change (default: 5)")
    group.add_argument("--max-poll-interval", type=positive_number, default=60.0, metavar="S",
                       help="maximum wait between status checks, in seconds (default: 60)")
    group.add_argument("--max-wait", type=positive_number, default=None, metavar="S",
                       help="stop waiting after S seconds and leave the batches running for a rerun (default: wait)")
    group.add_argument("--no-wait", action="store_true", help="submit and return; rerun later to collect results")
    group.add_argument("--cancel", action="store_true",
                       help="cancel the job's running batches, then merge what they finished")
    group.add_argument("--no-progress", action="store_true", help="do not show the progress bar")


def run_command(args: argparse.Namespace) -> int:
    """Run `batch` with parsed arguments and return the exit status."""
    lang = getattr(args, "lang", None)
    if not args.input.is_file():
        print(messages.t("batch.error.input_missing", lang, path=args.input), file=sys.stderr)
        return EXIT_USAGE

    try:
        summary = run_batch_job(
            args.input,
            args.output,
            base_url=args.base_url,
            api_key=os.environ.get("OPENAI_API_KEY") or None,
            endpoint=args.endpoint,
            completion_window=args.completion_window,
            custom_id_field=args.custom_id_field,
            max_requests_per_file=args.max_requests_per_file,
            max_bytes_per_file=args.max_bytes_per_file,
            max_prompt_tokens_per_file=args.max_prompt_tokens_per_file,
            max_enqueued_tokens=args.max_enqueued_tokens,
            poll_interval_seconds=args.poll_interval,
            max_poll_interval_seconds=max(args.max_poll_interval, args.poll_interval),
            max_wait_seconds=args.max_wait,
            wait=not args.no_wait,
            cancel=args.cancel,
            progress=not args.no_progress,
            lang=lang,
        )
    except MissingApiKeyError:
        print(messages.t("batch.error.no_key", lang), file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except openai.APIError as error:
        print(messages.t("batch.error.api", lang, error=error), file=sys.stderr)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        print(messages.t("batch.stop.interrupted", lang), file=sys.stderr)
        return EXIT_INTERRUPTED

    print(summary.format(lang))
    return summary.exit_status
