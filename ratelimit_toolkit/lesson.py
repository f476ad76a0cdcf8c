"""One-line set-up for the notebooks: the Korean plot font, a mock server and clients.

A lesson starts with::

    from ratelimit_toolkit import lesson
    session = lesson.start(rpm=20, tpm=150_000, burst_seconds=1)
    client = session.client()

`start()` runs the built-in mock server on 127.0.0.1 in a background thread.
Only when the environment sets `RATELIMIT_TOOLKIT_REAL_API=1` and
`OPENAI_API_KEY` does the session point at the real OpenAI API instead, where
every request costs money and the account's own limits apply.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import openai

from ratelimit_toolkit import messages, plots
from ratelimit_toolkit.mock import MockServer, MockSettings

logger = logging.getLogger(__name__)

#: Environment variable that switches lessons to the real OpenAI API.
REAL_API_VARIABLE = "RATELIMIT_TOOLKIT_REAL_API"

#: Placeholder key for the mock server, which accepts any non-empty key.
MOCK_API_KEY = "sk-mock-lesson"

#: The real API's address, used unless `OPENAI_BASE_URL` is set.
REAL_BASE_URL = "https://api.openai.com/v1"

#: Mock latency for lessons, so timings look like a fast hosted model
#: instead of an instant local response. Any of them can be overridden in `start()`.
LESSON_MOCK_DEFAULTS: dict[str, Any] = {
    "base_latency_seconds": 0.02,
    "per_token_latency_seconds": 0.0005,
}

_TRUE_VALUES = ("1", "true", "yes", "on")
_FALSE_VALUES = ("", "0", "false", "no", "off")

messages.register(
    {
        "lesson.mock_banner": {
            "en": "Mock server {url} · {rpm:,} RPM, {tpm:,} TPM, burst {burst:g} s · model {model}",
            "ko": "모의 서버 {url} · 분당 요청 수 {rpm:,}, 분당 토큰 수 {tpm:,}, 버스트 {burst:g}초 · 모델 {model}",
        },
        "lesson.real_banner": {
            "en": "Real OpenAI API {url} · model {model} · every request costs money, and your account's limits apply",
            "ko": "실제 OpenAI API {url} · 모델 {model} · 요청마다 비용이 들고, 계정의 한도가 적용됩니다",
        },
        "lesson.configured": {
            "en": "Mock server settings changed: {changes}",
            "ko": "모의 서버 설정 변경: {changes}",
        },
        "lesson.restarted": {
            "en": "Mock server restarted with fresh limits and statistics: {changes}",
            "ko": "모의 서버를 새 한도와 빈 통계로 다시 시작했습니다: {changes}",
        },
        "lesson.port_changed": {
            "en": "The old port was taken, so the mock server now listens at {url}; create your clients again.",
            "ko": "이전 포트를 쓸 수 없어 모의 서버가 {url}에서 다시 시작했습니다. 클라이언트를 다시 만드세요.",
        },
        "lesson.missing_key": {
            "en": (
                "RATELIMIT_TOOLKIT_REAL_API is set but OPENAI_API_KEY is missing. Set OPENAI_API_KEY "
                "in the environment before starting Jupyter, or unset RATELIMIT_TOOLKIT_REAL_API to use the mock server."
            ),
            "ko": (
                "RATELIMIT_TOOLKIT_REAL_API가 설정되었지만 OPENAI_API_KEY가 없습니다. Jupyter를 시작하기 전에 "
                "OPENAI_API_KEY를 환경 변수로 설정하거나, 모의 서버를 쓰려면 RATELIMIT_TOOLKIT_REAL_API를 지우세요."
            ),
        },
        "lesson.real_cannot_configure": {
            "en": "The real API's limits belong to your account; configure() and restart() work only with the mock server.",
            "ko": "실제 API의 한도는 계정에 정해져 있습니다. configure()와 restart()는 모의 서버에서만 쓸 수 있습니다.",
        },
        "lesson.closed": {
            "en": "This lesson session is closed; call lesson.start() again.",
            "ko": "이 수업 세션은 닫혔습니다. lesson.start()를 다시 호출하세요.",
        },
    }
)


class RealAPIKeyMissingError(RuntimeError):
    """The real API was requested without an `OPENAI_API_KEY`."""


class LessonSession:
    """The mock server (or the real API) a notebook talks to, and clients for it.

    Create one with `start()`. It closes on `close()`, at the end of a `with`
    block, or when the Python process exits.

    Attributes:
        server: the running `MockServer`, or None on the real API.
        model: the model name lessons send.
        real: True when requests go to the real OpenAI API.
    """

    def __init__(self, *, server: MockServer | None, model: str, real_base_url: str | None = None) -> None:
        self.server = server
        self.model = model
        self.real = server is None
        self._real_base_url = real_base_url
        self._closed = False
        atexit.register(self.close)

    @property
    def base_url(self) -> str:
        """The `/v1` address the clients use."""
        if self.server is not None:
            return self.server.base_url
        return self._real_base_url or REAL_BASE_URL

    @property
    def settings(self) -> MockSettings | None:
        """The mock server's current settings, or None on the real API."""
        return self.server.settings if self.server is not None else None

    @property
    def limit_per_second(self) -> float | None:
        """The mock server's request limit in requests per second (RPM / 60), or None on the real API."""
        settings = self.settings
        return settings.rpm / 60.0 if settings is not None else None

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """Create a synchronous `openai.OpenAI` for this session.

        It sets `max_retries=0` so lessons see every 429. Pass `max_retries=2`
        (the openai default) or any other client option to override it.
        """
        return openai.OpenAI(**self._client_options(kwargs))

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """Create an `openai.AsyncOpenAI` for this session, with the options of `client()`."""
        return openai.AsyncOpenAI(**self._client_options(kwargs))

    def _client_options(self, overrides: dict[str, Any]) -> dict[str, Any]:
        self._check_open()
        options: dict[str, Any] = {"base_url": self.base_url, "max_retries": 0}
        if not self.real:
            options["api_key"] = MOCK_API_KEY
        options.update(overrides)
        return options

    def configure(self, **settings: Any) -> MockSettings:
        """Change mock server settings in place, such as `rpm` or `quota_exhausted`.

        The base URL and existing clients stay valid. Changing `rpm`, `tpm` or
        `burst_seconds` refills both buckets. Statistics are kept.

        Raises:
            RuntimeError: on the real API, whose limits cannot be changed.
            TypeError: a name is not a `MockSettings` field.
            ValueError: a value is out of range.
        """
        server = self._mock_server()
        changed = server.configure(**settings)
        print(messages.both("lesson.configured", changes=_describe_changes(settings)))
        return changed

    def restart(self, **settings: Any) -> MockSettings:
        """Restart the mock server on the same port with fresh buckets and statistics.

        Settings not named keep their current values. Existing clients stay
        valid because the base URL does not change. The exception is a port
        that another program took in the meantime. Then the server starts on a
        free port, prints its new URL, and clients must be created again.

        Raises:
            RuntimeError: on the real API.
            TypeError: a name is not a `MockSettings` field.
            ValueError: a value is out of range; the old server keeps running then.
        """
        server = self._mock_server()
        new_settings = server.settings.replace(**settings)
        port = server.port
        server.stop()
        try:
            self.server = MockServer(new_settings, port=port).start()
        except OSError as error:
            logger.warning("port %d is no longer free (%s); restarting the mock server on a free port", port, error)
            self.server = MockServer(new_settings).start()
            print(messages.both("lesson.port_changed", url=self.server.base_url))
        print(messages.both("lesson.restarted", changes=_describe_changes(settings) or "-"))
        return new_settings

    def reset_stats(self) -> None:
        """Clear the mock server's statistics, so the next timeline starts at second 0."""
        self._mock_server().reset_stats()

    def stats(self) -> dict[str, Any]:
        """Return the mock server's totals and per-second timeline (see `MockServer.stats`)."""
        return self._mock_server().stats()

    def banner(self) -> str:
        """Describe where requests go and under which limits, in Korean and English, on one line."""
        if self.server is None:
            return messages.both("lesson.real_banner", url=self.base_url, model=self.model)
        settings = self.server.settings
        return messages.both(
            "lesson.mock_banner",
            url=self.base_url,
            rpm=settings.rpm,
            tpm=settings.tpm,
            burst=settings.burst_seconds,
            model=self.model,
        )

    def close(self) -> None:
        """Stop the mock server; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self.server is not None:
            self.server.stop()
        logger.info("lesson session closed (%s)", "real API" if self.real else "mock server")

    def _mock_server(self) -> MockServer:
        self._check_open()
        if self.server is None:
            raise RuntimeError(messages.both("lesson.real_cannot_configure"))
        return self.server

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(messages.both("lesson.closed"))

    def __enter__(self) -> LessonSession:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self.real:
            state = "real API"
        else:
            state = repr(self.server)
        return f"LessonSession({state}, model={self.model!r})"


_active: LessonSession | None = None


def start(
    *,
    rpm: int = 20,
    tpm: int = 150_000,
    burst_seconds: float = 1.0,
    model: str = "gpt-4o-mini",
    **mock_settings: Any,
) -> LessonSession:
    """Set up the Korean plot font and start a lesson session, printing a one-line banner.

    The session runs a mock server with the given limits, unless
    `RATELIMIT_TOOLKIT_REAL_API=1` is set: then it uses the real OpenAI API
    with the key in `OPENAI_API_KEY`, and the limits and `mock_settings` are
    ignored. Starting a session closes the one started before, so rerunning a
    notebook's set-up cell leaves no server behind.

    Args:
        rpm: the mock server's requests per minute.
        tpm: the mock server's tokens per minute.
        burst_seconds: seconds of budget the mock server lets a client spend
            at once; 1 enforces the per-minute limits per second.
        model: the model name lessons send.
        **mock_settings: other `MockSettings` fields, such as `seed` or
            `retry_after_headers`. Lesson latency defaults come from
            `LESSON_MOCK_DEFAULTS`.

    Raises:
        RealAPIKeyMissingError: the real API was requested without a key.
        ValueError: `RATELIMIT_TOOLKIT_REAL_API` has a value that is not a boolean.
    """
    global _active

    plots.setup_korean_font()
    if _active is not None:
        _active.close()

    if real_api_requested():
        session = _start_real(model)
    else:
        session = _start_mock(rpm, tpm, burst_seconds, model, mock_settings)
    _active = session
    print(session.banner())
    return session


def real_api_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Tell whether `RATELIMIT_TOOLKIT_REAL_API` requests the real API.

    Raises:
        ValueError: the variable is set to something other than 1/0, true/false, yes/no or on/off.
    """
    value = (environ if environ is not None else os.environ).get(REAL_API_VARIABLE, "").strip().lower()
    if value in _TRUE_VALUES:
        return True
    if value in _FALSE_VALUES:
        return False
    raise ValueError(f"{REAL_API_VARIABLE}={value!r} is not a boolean; set it to 1 for the real API or unset it")


def _start_mock(rpm: int, tpm: int, burst_seconds: float, model: str, mock_settings: dict[str, Any]) -> LessonSession:
    settings = {**LESSON_MOCK_DEFAULTS, **mock_settings}
    server = MockServer(rpm=rpm, tpm=tpm, burst_seconds=burst_seconds, **settings).start()
    logger.info("lesson session started on the mock server %s", server.base_url)
    return LessonSession(server=server, model=model)


def _start_real(model: str) -> LessonSession:
    if not os.environ.get("OPENAI_API_KEY"):
        raise RealAPIKeyMissingError(messages.both("lesson.missing_key"))
    base_url = os.environ.get("OPENAI_BASE_URL") or REAL_BASE_URL
    logger.warning("lesson session uses the real OpenAI API at %s; requests cost money", base_url)
    return LessonSession(server=None, model=model, real_base_url=base_url)


def _describe_changes(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in settings.items() if name != "api_keys")


class Table:
    """Rows shown as a Markdown table in Jupyter and as aligned text elsewhere."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
        self.rows = [dict(row) for row in rows]
        self.columns = list(columns) if columns is not None else _columns_of(self.rows)

    def _cells(self) -> list[list[str]]:
        return [[_format_cell(row.get(column, "")) for column in self.columns] for row in self.rows]

    def _repr_markdown_(self) -> str:
        # A pipe inside a cell would end the cell, so it is escaped.
        rows = [self.columns, *self._cells()]
        lines = ["| " + " | ".join(value.replace("|", "\\|") for value in row) + " |" for row in rows]
        lines.insert(1, "|" + "---|" * len(self.columns))
        return "\n".join(lines)

    def __repr__(self) -> str:
        cells = [self.columns, *self._cells()]
        widths = [max(len(row[index]) for row in cells) for index in range(len(self.columns))]
        return "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Table:
    """Wrap rows (mappings) for display. Columns default to the keys in first-seen order."""
    return Table(rows, columns)


def rate_limit_headers(source: Any) -> dict[str, str]:
    """Return the `x-ratelimit-*` headers of a response, an `openai.APIStatusError` or a header mapping.

    Raw responses come from `client.chat.completions.with_raw_response.create(...)`.
    """
    response = getattr(source, "response", None)
    headers = getattr(response if response is not None else source, "headers", source)
    if not isinstance(headers, Mapping) and not hasattr(headers, "items"):
        raise TypeError(f"expected a response, an openai.APIStatusError or a header mapping, got {type(source).__name__}")
    return {name.lower(): value for name, value in sorted(headers.items()) if name.lower().startswith("x-ratelimit-")}


def headers_table(source: Any) -> Table:
    """Show the `x-ratelimit-*` headers of `source` (see `rate_limit_headers`) as a header/value table."""
    headers = rate_limit_headers(source)
    return Table([{"header": name, "value": value} for name, value in headers.items()])


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def _format_cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
