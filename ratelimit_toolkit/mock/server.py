"""`MockServer`: the mock server in a background thread, for notebooks, tests and scripts."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from ratelimit_toolkit import tokens
from ratelimit_toolkit.mock.app import MockApplication
from ratelimit_toolkit.mock.buckets import Clock
from ratelimit_toolkit.mock.faults import ScriptEntry
from ratelimit_toolkit.mock.hosts import is_loopback_host
from ratelimit_toolkit.mock.settings import MockSettings
from ratelimit_toolkit.mock.state import MockState
from ratelimit_toolkit.mock.stats import RequestRecord

logger = logging.getLogger(__name__)

#: Seconds `stop()` lets requests in flight finish before cancelling them.
SHUTDOWN_GRACE_SECONDS = 0.5

_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 10.0


class MockServer:
    """An OpenAI-compatible server with rate limits, running in its own thread.

    The server listens on `host` (127.0.0.1 by default) and runs its own
    asyncio event loop in a daemon thread, so it works the same from plain
    scripts, from async code and inside Jupyter's running loop::

        with MockServer(rpm=20, tpm=150_000, burst_seconds=1) as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-mock")

    Limits: a request bucket and a token bucket, each holding
    `limit * burst_seconds / 60` and refilling continuously at `limit / 60`
    per second. A request is admitted only when both buckets allow it, and then
    both are charged: one request, and the prompt tokens plus the output cap
    times `n` for each prompt. A request larger than the token bucket but
    within the per-minute limit waits for a full bucket and leaves it in debt.
    A request larger than the per-minute token limit always gets 429
    "Request too large".

    Refused requests cost nothing by default, so 100 back-to-back requests at
    60 RPM with `burst_seconds=1` still get about one request a second
    through. With `charge_refused=True` every rate-limit 429 takes one request
    from the request bucket, as OpenAI counts refusals against the limit.
    A client that retries without waiting then locks itself out.

    By default every request shares one pair of buckets. With
    `limit_scope="key"` each API key gets its own pair, and with
    `limit_scope="organization"` each organisation does (see `MockSettings`);
    `status()` and `GET /status` show each scope's counts.

    Args:
        settings: a whole `MockSettings`; keyword settings are applied on top.
        host: the address to bind. Anything but a loopback address lets other
            computers connect, and `start()` logs a warning.
        port: the port to bind; 0 picks a free one.
        script: scripted responses for the first requests (see `enqueue_responses`).
        clock: monotonic seconds for the buckets and statistics.
        **changes: any `MockSettings` field, such as `rpm`, `tpm`,
            `burst_seconds`, `charge_refused`, `retry_after_headers`,
            `quota_exhausted`, `failure_rate`, `drop_rate`, `slow_rate`, `seed`.

    Raises:
        TypeError: a keyword is not a setting.
        ValueError: a setting is out of range.
    """

    def __init__(
        self,
        settings: MockSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        script: Iterable[ScriptEntry] = (),
        clock: Clock = time.monotonic,
        **changes: Any,
    ) -> None:
        resolved = (settings or MockSettings()).replace(**changes)
        self.host = host
        self.port = port
        self._requested_port = port
        self._state = MockState(resolved, clock=clock, script=script)
        self._lifecycle_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def running(self) -> bool:
        """True between a successful `start()` and `stop()`."""
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    @property
    def url(self) -> str:
        """The server's root address, such as `http://127.0.0.1:54321`."""
        if not self.running:
            raise RuntimeError("the mock server is not running; call start() or use it in a 'with' block")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The `/v1` address to give the `openai` client as `base_url`."""
        return f"{self.url}/v1"

    @property
    def settings(self) -> MockSettings:
        """The current settings."""
        return self._state.settings

    def configure(self, **changes: Any) -> MockSettings:
        """Change settings while the server runs (or before it starts); see `MockState.configure`."""
        return self._state.configure(**changes)

    def enqueue_responses(self, entries: Iterable[ScriptEntry]) -> None:
        """Queue scripted responses for the next requests, in order.

        An entry is a status (`502`, `429`, `200`), `"drop"`, a dict of
        `ScriptedResponse` fields (`status`, `body`, `headers`, `drop`,
        `delay_seconds`) or a `ScriptedResponse`. Scripted responses apply to
        chat completions, completions and embeddings, and take the place of the
        random faults; a plain `200` is answered as usual.
        """
        self._state.enqueue(entries)

    def clear_responses(self) -> None:
        """Drop the scripted responses not used yet."""
        self._state.clear_script()

    def pending_responses(self) -> int:
        """Return the number of scripted responses not used yet."""
        return self._state.pending_script()

    def stats(self) -> dict[str, Any]:
        """Return what `GET /v1/stats` returns: totals and the per-second timeline."""
        return self._state.stats.snapshot()

    def timeline(self) -> list[dict[str, int]]:
        """Return the per-second timeline: admitted, refused, tokens and errors per second."""
        timeline: list[dict[str, int]] = self.stats()["timeline"]
        return timeline

    def records(self) -> list[RequestRecord]:
        """Return the recorded requests, oldest first."""
        return self._state.stats.records()

    def status(self) -> dict[str, Any]:
        """Return what `GET /v1/status` returns: the limits and each scope's counts, keys masked.

        Counts run from each scope's first request. `reset_stats()` leaves them,
        and changing a limit or scope setting with `configure()` resets them.
        """
        return self._state.status()

    def reset_stats(self) -> None:
        """Forget the recorded requests and restart the timeline at second 0."""
        self._state.stats.reset()

    def start(self) -> MockServer:
        """Start listening and return self once the server accepts connections.

        Raises:
            RuntimeError: the server is already running.
            OSError: the address cannot be bound.
        """
        with self._lifecycle_lock:
            if self._thread is not None:
                raise RuntimeError("the mock server is already running; call stop() first")
            self._ready.clear()
            self._startup_error = None
            self._thread = threading.Thread(target=self._run, name="ratelimit-toolkit-mock-server", daemon=True)
            self._thread.start()
            started = self._ready.wait(_START_TIMEOUT_SECONDS)
            if self._startup_error is not None or not started:
                self._thread.join(_STOP_TIMEOUT_SECONDS)
                self._thread = None
                raise self._startup_error or RuntimeError(f"the mock server did not start within {_START_TIMEOUT_SECONDS}s")
        logger.info("mock server started at %s (%s)", self.base_url, _describe_limits(self.settings))
        if not is_loopback_host(self.host):
            logger.warning(
                "mock server at %s listens on %r, so other computers on the network can reach it and its /status page",
                self.base_url,
                self.host,
            )
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread; does nothing when it is not running."""
        with self._lifecycle_lock:
            thread, loop, stop_event = self._thread, self._loop, self._stop_event
            if thread is None or loop is None or stop_event is None:
                return
            try:
                loop.call_soon_threadsafe(stop_event.set)
            except RuntimeError:  # the loop already closed after a crash
                pass
            thread.join(_STOP_TIMEOUT_SECONDS)
            if thread.is_alive():
                logger.warning("mock server thread on port %d did not stop within %ss", self.port, _STOP_TIMEOUT_SECONDS)
            self._thread = None
            self._loop = None
            self._stop_event = None
        logger.info("mock server on port %d stopped", self.port)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # handed to start(), which re-raises it in the caller's thread
            if not self._ready.is_set():
                self._startup_error = error
                self._ready.set()
            else:
                logger.exception("mock server on port %d crashed", self.port)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        runner = web.AppRunner(
            MockApplication(self._state).build(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
        )
        _load_tokenizers()
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop_event.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> MockServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self.running else "stopped"
        return f"MockServer({where}, {_describe_limits(self.settings)})"


def _load_tokenizers() -> None:
    """Load both encodings before the first request, so it is not 0.3 s slower than the rest."""
    for encoding_name in ("o200k_base", "cl100k_base"):
        tokens.get_encoder(encoding_name)


def _describe_limits(settings: MockSettings) -> str:
    return f"rpm={settings.rpm}, tpm={settings.tpm}, burst_seconds={settings.burst_seconds:g}, limit_scope={settings.limit_scope}"
