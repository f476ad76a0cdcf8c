"""The `ratelimit-toolkit` command.

Each subcommand adds its parser in a `_add_<name>_command(subcommands)`
function and sets `handler`, a function from the parsed arguments to the
exit status. `main()` configures logging, dispatches, and returns that status.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from ratelimit_toolkit import cli_help, messages
from ratelimit_toolkit.batch_api.cli import add_parser as add_batch_parser
from ratelimit_toolkit.mock.hosts import network_warning
from ratelimit_toolkit.mock.scope_settings import DEFAULT_MAX_SCOPES, read_organizations_file
from ratelimit_toolkit.processor.cli import add_parser as add_process_parser

if TYPE_CHECKING:
    from ratelimit_toolkit.mock import MockServer

logger = logging.getLogger(__name__)

messages.register(
    {
        "serve.listening": {
            "en": "Mock server listening at {base_url} ({limits}). Press Ctrl-C to stop.",
            "ko": "모의 서버가 {base_url} 에서 요청을 받고 있습니다 ({limits}). 멈추려면 Ctrl-C 를 누르세요.",
        },
        "serve.status_page": {
            "en": "Status page: {url}/status (JSON: {url}/v1/status)",
            "ko": "현황 페이지: {url}/status (JSON: {url}/v1/status)",
        },
        "serve.stopped": {
            "en": "Mock server stopped after {requests} requests; {refused} of them got a 429 response.",
            "ko": "모의 서버를 멈췄습니다. 요청 {requests}개 중 {refused}개에 429로 응답했습니다.",
        },
        "serve.bind_failed": {
            "en": "Cannot listen on {host}:{port}: {error}. Choose another --port or stop the program using it.",
            "ko": "{host}:{port} 에서 요청을 받을 수 없습니다: {error}. 다른 --port 를 고르거나 그 포트를 쓰는 프로그램을 멈추세요.",
        },
        "cli.invalid_setting": {
            "en": "Invalid option: {error}",
            "ko": "잘못된 옵션입니다: {error}",
        },
    }
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Create the parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ratelimit-toolkit",
        description="Live with OpenAI API rate limits: a mock server and tools for large request jobs.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level for messages on stderr (default: INFO)",
    )
    parser.add_argument(
        "--lang",
        choices=["en", "ko"],
        help="language of help and messages (default: RATELIMIT_TOOLKIT_LANG, else the locale from "
        "LC_ALL, LC_MESSAGES or LANG, else English)",
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_serve_command(subcommands)
    add_process_parser(subcommands)
    add_batch_parser(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    # argparse prints --help while it parses, so the help language is picked from argv beforehand.
    cli_help.localize_parser(parser, cli_help.help_language(argv))
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=arguments.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Handler = arguments.handler
    return handler(arguments)


def _add_serve_command(subcommands: Any) -> None:
    serve = subcommands.add_parser(
        "serve",
        help="run the OpenAI-compatible mock server until Ctrl-C",
        description=(
            "Run the OpenAI-compatible mock server with rate limits in the foreground. "
            "It prints its base URL (http://HOST:PORT/v1) and serves requests until Ctrl-C or SIGTERM."
        ),
    )
    _add_limit_options(serve)
    _add_fault_options(serve)
    _add_answer_options(serve)
    serve.set_defaults(handler=_run_serve)


def _add_limit_options(serve: argparse.ArgumentParser) -> None:
    limits = serve.add_argument_group("address and limits")
    limits.add_argument(
        "--host",
        metavar="HOST",
        default="127.0.0.1",
        help="address to bind: 127.0.0.1 keeps the server on this computer; 0.0.0.0 or this computer's "
        "LAN address lets others on the network connect, for a classroom, and prints a warning (default: 127.0.0.1)",
    )
    limits.add_argument("--port", type=int, metavar="PORT", default=8000, help="TCP port to bind; 0 picks a free port (default: 8000)")
    limits.add_argument("--rpm", type=int, metavar="N", default=60, help="requests per minute (default: 60)")
    limits.add_argument("--tpm", type=int, metavar="N", default=150_000, help="tokens per minute (default: 150000)")
    limits.add_argument(
        "--burst-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds of budget that may be spent at once, up to 60: 60 allows a whole minute's "
        "budget in one burst, 1 enforces the per-minute limits per second (default: 60)",
    )
    limits.add_argument(
        "--charge-refused",
        action="store_true",
        help="count every rate-limit 429 as one request against the RPM limit, as OpenAI does",
    )
    limits.add_argument(
        "--retry-after",
        action="store_true",
        help="send retry-after (seconds) and retry-after-ms headers with rate-limit 429s",
    )
    _add_scope_options(limits)


def _add_scope_options(limits: Any) -> None:
    limits.add_argument(
        "--limit-scope",
        choices=["server", "key", "organization"],
        default="server",
        help="who shares one pair of RPM and TPM buckets: server = every request; key = each API key gets "
        "its own; organization = each organisation gets its own, shared by its keys (default: server)",
    )
    limits.add_argument(
        "--organizations",
        metavar="FILE.json",
        help='JSON file mapping organisation ids to their API keys, such as {"org-a": ["sk-a1", "sk-a2"]}; '
        'an entry may also be {"keys": [...], "rpm": N, "tpm": N} to give that organisation its own '
        "requests and tokens per minute. Keys it does not list belong to the organisation in their "
        "OpenAI-Organization header, else to --organization",
    )
    limits.add_argument(
        "--max-scopes",
        type=int,
        metavar="N",
        default=DEFAULT_MAX_SCOPES,
        help="keys or organisations the server keeps buckets for; beyond it the least recently used "
        f"is dropped and starts again with full buckets (default: {DEFAULT_MAX_SCOPES})",
    )


def _add_fault_options(serve: argparse.ArgumentParser) -> None:
    faults = serve.add_argument_group("errors and faults")
    faults.add_argument("--quota-exhausted", action="store_true", help="answer every request with 429 insufficient_quota")
    faults.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability from 0 to 1 of responding with an HTML 500, 502 or 503 (default: 0)",
    )
    faults.add_argument(
        "--failure-statuses",
        type=_status_list,
        default=(500, 502, 503),
        metavar="LIST",
        help="comma-separated statuses the injected failures use (default: 500,502,503)",
    )
    faults.add_argument("--slow-rate", type=float, metavar="P", default=0.0, help="probability from 0 to 1 of a slow response (default: 0)")
    faults.add_argument("--slow-seconds", type=float, metavar="S", default=5.0, help="extra delay of a slow response, in seconds (default: 5)")
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability from 0 to 1 of closing the connection without a response (default: 0)",
    )
    faults.add_argument("--seed", type=int, metavar="N", help="seed for the random faults, for repeatable runs (default: random)")
    faults.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this API key; repeat for several (default: accept any non-empty key). "
        "Other users of this machine can see command-line arguments.",
    )


def _add_answer_options(serve: argparse.ArgumentParser) -> None:
    answers = serve.add_argument_group("answers")
    answers.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="S",
        help="delay before every successful response, in seconds (default: 0; 0.02 feels like a fast hosted model)",
    )
    answers.add_argument(
        "--per-token-latency",
        type=float,
        default=0.0,
        metavar="S",
        help="extra delay per generated token, in seconds (default: 0; try 0.0005)",
    )
    answers.add_argument(
        "--language",
        choices=["auto", "en", "ko"],
        default="auto",
        help="language of the generated text; auto uses Korean when the prompt contains Hangul (default: auto)",
    )
    answers.add_argument(
        "--no-shuffle",
        action="store_true",
        help="return completions choices in index order instead of shuffled",
    )
    answers.add_argument("--organization", metavar="ORG", default="org-mock", help="organisation id in headers and messages (default: org-mock)")


def _status_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated HTTP statuses such as 500,502,503, got {text!r}") from error


def _serve_settings(arguments: argparse.Namespace) -> dict[str, Any]:
    return {
        "rpm": arguments.rpm,
        "tpm": arguments.tpm,
        "burst_seconds": arguments.burst_seconds,
        "charge_refused": arguments.charge_refused,
        "retry_after_headers": arguments.retry_after,
        "quota_exhausted": arguments.quota_exhausted,
        "failure_rate": arguments.failure_rate,
        "failure_statuses": arguments.failure_statuses,
        "slow_rate": arguments.slow_rate,
        "slow_seconds": arguments.slow_seconds,
        "drop_rate": arguments.drop_rate,
        "seed": arguments.seed,
        "api_keys": arguments.api_keys,
        "language": arguments.language,
        "shuffle_choices": not arguments.no_shuffle,
        "base_latency_seconds": arguments.latency,
        "per_token_latency_seconds": arguments.per_token_latency,
        "organization": arguments.organization,
        "limit_scope": arguments.limit_scope,
        "max_scopes": arguments.max_scopes,
        **_organization_settings(arguments),
    }


def _organization_settings(arguments: argparse.Namespace) -> dict[str, Any]:
    """Read `--organizations` into the `organizations` and `scope_limits` settings.

    Raises:
        ValueError: the file cannot be read or has the wrong shape.
    """
    if arguments.organizations is None:
        return {}
    organizations, scope_limits = read_organizations_file(arguments.organizations, rpm=arguments.rpm, tpm=arguments.tpm)
    if scope_limits and arguments.limit_scope != "organization":
        raise ValueError(
            f"{arguments.organizations} gives organisations their own rpm or tpm, which applies only "
            f"with --limit-scope organization, got --limit-scope {arguments.limit_scope}"
        )
    return {"organizations": organizations, "scope_limits": scope_limits or None}


def _run_serve(arguments: argparse.Namespace) -> int:
    from ratelimit_toolkit.mock import MockServer

    lang = arguments.lang
    try:
        server = MockServer(host=arguments.host, port=arguments.port, **_serve_settings(arguments))
    except (TypeError, ValueError) as error:
        print(messages.t("cli.invalid_setting", lang, error=error), file=sys.stderr)
        return 2
    for line in network_warning(arguments.host, arguments.port):
        print(line, file=sys.stderr, flush=True)

    # SIGTERM ends the server like Ctrl-C. Both handlers are in place before
    # the server starts, so a signal at any later moment stops it cleanly.
    previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        server.start()
        _report_and_wait(server, lang)
    except OSError as error:
        print(messages.t("serve.bind_failed", lang, host=arguments.host, port=arguments.port, error=error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        logger.info("interrupted; stopping the mock server")
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        _stop_and_summarize(server, lang)
    return 0


def _report_and_wait(server: MockServer, lang: str | None) -> None:
    settings = server.settings
    limits = f"RPM {settings.rpm}, TPM {settings.tpm}, burst {settings.burst_seconds:g}s, limit scope {settings.limit_scope}"
    print(messages.t("serve.listening", lang, base_url=server.base_url, limits=limits), flush=True)
    print(messages.t("serve.status_page", lang, url=server.url), flush=True)
    threading.Event().wait()


def _stop_and_summarize(server: MockServer, lang: str | None) -> None:
    if not server.running:
        return
    totals = server.stats()["totals"]
    server.stop()
    print(messages.t("serve.stopped", lang, requests=totals["requests"], refused=totals["refused_429"]["total"]), flush=True)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
