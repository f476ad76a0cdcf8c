"""The `ratelimit-toolkit process` subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tqdm.contrib.logging import logging_redirect_tqdm

from ratelimit_toolkit import messages
from ratelimit_toolkit.cli_types import positive_int, positive_number
from ratelimit_toolkit.processor import texts  # noqa: F401  (registers the messages)
from ratelimit_toolkit.processor.api import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    MissingApiKeyError,
    process_file_sync,
)
from ratelimit_toolkit.processor.summary import ProcessSummary
from ratelimit_toolkit.processor.records import OutputLockedError

#: Exit status after Ctrl-C, the shell's convention for SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
#: Exit status for invalid arguments, a missing key or input file, or an unavailable Redis.
EXIT_USAGE = 2
#: Environment variable read when --redis-url is not given, so a password need
#: not appear on the command line, where other local users can read it.
REDIS_URL_VARIABLE = "RATELIMIT_TOOLKIT_REDIS_URL"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `process` subcommand to an argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "process",
        help="send every request in a JSONL file to an API endpoint, throttled, retried and resumable",
        description=(
            "Send one request per line of INPUT.jsonl to --url and append one JSON record per line "
            "to --output. Rerunning with the same --output skips lines that already have a record. "
            "The API key is read from OPENAI_API_KEY. Exit status: 0 when every line has a response "
            "or a recorded error, 1 when some lines are still unanswered, 2 for invalid arguments "
            "or when Redis at --redis-url is unavailable, 130 after Ctrl-C."
        ),
    )
    parser.add_argument("input", metavar="INPUT.jsonl", type=Path, help="one request body (JSON object) per line")
    parser.add_argument("--output", required=True, type=Path, metavar="RESULTS.jsonl",
                        help="file the records are appended to; reusing it resumes an earlier run")
    parser.add_argument("--url", required=True, metavar="ENDPOINT_URL",
                        help="full endpoint URL, e.g. https://api.openai.com/v1/chat/completions "
                             "or an Azure deployment URL with ?api-version=")
    _add_limit_options(parser)
    _add_run_options(parser)
    parser.set_defaults(handler=run_command)
    return parser


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rpm", type=positive_number, default=None, metavar="N",
                        help="requests-per-minute limit; default: learned from x-ratelimit-* response headers")
    parser.add_argument("--tpm", type=positive_number, default=None, metavar="N",
                        help="tokens-per-minute limit; default: learned from x-ratelimit-* response headers")
    parser.add_argument("--burst-seconds", type=positive_number, default=1.0, metavar="S",
                        help="seconds of budget spent at once, in (0, 60]; 1 (default) assumes the "
                             "server enforces the per-minute limits per second")
    parser.add_argument("--redis-url", default=None, metavar="URL",
                        help="share the limits through Redis at URL (redis://[:PASSWORD@]HOST:PORT/DB) with "
                             "every process given the same URL and the same --rpm, --tpm and --burst-seconds; "
                             f"default: ${REDIS_URL_VARIABLE} if set (which keeps a password out of the process "
                             "list), else this process is limited alone. "
                             "Needs the redis package (pip install 'ratelimit-toolkit[redis]')")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-attempts", type=positive_int, default=DEFAULT_MAX_ATTEMPTS, metavar="N",
                        help=f"HTTP calls per line before its error is recorded (default {DEFAULT_MAX_ATTEMPTS})")
    parser.add_argument("--concurrency", type=positive_int, default=DEFAULT_CONCURRENCY, metavar="N",
                        help=f"requests in flight at most (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--timeout", type=positive_number, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                        help=f"timeout of one HTTP call, in seconds (default {DEFAULT_TIMEOUT_SECONDS:g})")
    parser.add_argument("--max-lines", type=positive_int, default=None, metavar="N",
                        help="stop after N lines in this run (the rest stays for a later resume)")
    # SUPPRESS keeps the top-level `ratelimit-toolkit --lang` when this one is not given.
    parser.add_argument("--lang", choices=messages.LANGUAGES, default=argparse.SUPPRESS,
                        help="language of the progress bar and summary (default: from LANG)")
    parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")


def run_command(args: argparse.Namespace) -> int:
    """Run `process` with parsed arguments and return the exit status."""
    lang = getattr(args, "lang", None)
    if not args.input.is_file():
        print(messages.t("processor.error.input_missing", lang, path=args.input), file=sys.stderr)
        return EXIT_USAGE

    try:
        # Log lines go through tqdm.write, so they do not break the progress bar.
        with logging_redirect_tqdm():
            summary = _run(args, lang)
    except MissingApiKeyError:
        print(messages.t("processor.error.no_key", lang), file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OutputLockedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ConnectionError, ImportError) as error:
        if _redis_url(args) is None:
            raise
        print(_redis_error_message(error, lang), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(messages.t("processor.stop.cancelled", lang), file=sys.stderr)
        return EXIT_INTERRUPTED

    print(summary.format(lang))
    return summary.exit_status


def _run(args: argparse.Namespace, lang: str | None) -> ProcessSummary:
    return process_file_sync(
        args.input,
        args.output,
        args.url,
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        burst_seconds=args.burst_seconds,
        max_attempts=args.max_attempts,
        concurrency=args.concurrency,
        timeout_seconds=args.timeout,
        max_lines=args.max_lines,
        progress=not args.no_progress,
        lang=lang,
        redis_url=_redis_url(args),
    )


def _redis_url(args: argparse.Namespace) -> str | None:
    return args.redis_url or os.environ.get(REDIS_URL_VARIABLE) or None


def _redis_error_message(error: ConnectionError | ImportError, lang: str | None) -> str:
    """Describe a Redis failure without the URL's password. An ImportError message already names its fix."""
    if isinstance(error, ImportError):
        return f"error: {error}"
    # SharedLimiterUnavailableError carries the URL with its password replaced by ***.
    url = getattr(error, "url", "the given --redis-url")
    cause = error.__cause__ or error
    return messages.t("processor.error.redis_unavailable", lang, url=url, error=f"{type(cause).__name__}: {cause}")
