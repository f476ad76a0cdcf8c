"""A throwaway `redis-server` on 127.0.0.1 for tests, notebooks and benchmarks."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ratelimit_toolkit import messages

logger = logging.getLogger(__name__)

#: Install commands, appended to the messages about a missing server.
INSTALL_HINT = "install it with 'sudo apt-get install redis-server' (Debian, Ubuntu) or 'brew install redis' (macOS)"

messages.register(
    {
        "redis.server_missing": {
            "en": (
                "redis-server is not installed, so the Redis cells are skipped. "
                "Install it with 'sudo apt-get install redis-server' (Debian, Ubuntu) or 'brew install redis' (macOS), "
                "then run the notebook again."
            ),
            "ko": (
                "redis-server가 설치되어 있지 않아 Redis 셀을 건너뜁니다. "
                "'sudo apt-get install redis-server'(Debian, Ubuntu) 또는 'brew install redis'(macOS)로 설치한 뒤 "
                "노트북을 다시 실행하세요."
            ),
        },
        "redis.server_started": {
            "en": "Started a throwaway redis-server at {url}; it keeps data in memory only.",
            "ko": "임시 redis-server를 {url}에서 시작했습니다. 데이터는 메모리에만 둡니다.",
        },
    }
)

_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.02


class RedisServerNotFoundError(FileNotFoundError):
    """No `redis-server` binary on PATH (or at the path given)."""


def find_redis_server(executable: str | None = None) -> str | None:
    """Return the path of the `redis-server` binary, or None when it is not installed.

    Args:
        executable: a path or a name to look up instead of `redis-server`; the
            `RATELIMIT_TOOLKIT_REDIS_SERVER` environment variable sets the default.
    """
    name = executable or os.environ.get("RATELIMIT_TOOLKIT_REDIS_SERVER") or "redis-server"
    return shutil.which(name)


def start_if_installed() -> LocalRedisServer | None:
    """Start a `LocalRedisServer` and print its URL, or print how to install one and return None.

    For notebooks: the message is printed in Korean and English, and a cell
    that gets None skips its Redis part instead of failing.
    """
    if find_redis_server() is None:
        print(messages.both("redis.server_missing"))
        return None
    server = LocalRedisServer().start()
    print(messages.both("redis.server_started", url=server.url))
    return server


class LocalRedisServer:
    """A private `redis-server` process on 127.0.0.1, started and stopped by this object.

    It binds a free port on 127.0.0.1 only, keeps its data in memory (no RDB
    snapshot, no append-only file) and works in a temporary directory that is
    removed on `stop()`. Use it as a context manager::

        with LocalRedisServer() as server:
            limiter = RedisRateLimiter(1200, 120_000, redis_url=server.url)

    Args:
        executable: the `redis-server` binary; found on PATH when None.
        port: the port to bind; 0 picks a free one.

    Raises:
        RedisServerNotFoundError: the binary is not installed (on `start()`).
        RuntimeError: the server did not respond to PING within 10 seconds.
    """

    def __init__(self, executable: str | None = None, *, port: int = 0) -> None:
        self.executable = executable
        self.host = "127.0.0.1"
        self.port = port
        self._requested_port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """The `redis://` URL of the running server, database 0."""
        if self._process is None:
            raise RuntimeError("the redis-server is not running; call start() or use it in a 'with' block")
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalRedisServer:
        """Start the server and return self once it responds to PING."""
        if self._process is not None:
            raise RuntimeError("the redis-server is already running; call stop() first")
        binary = find_redis_server(self.executable)
        if binary is None:
            raise RedisServerNotFoundError(f"redis-server was not found on PATH; {INSTALL_HINT}")

        port = self.port or _free_port(self.host)
        self._directory = tempfile.TemporaryDirectory(prefix="ratelimit-toolkit-redis-")
        self._process = subprocess.Popen(
            _command(binary, self.host, port, Path(self._directory.name)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.port = port
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        # Stop the server when Python exits without calling stop(); a killed
        # Python process (SIGKILL) still leaves it running.
        atexit.register(self.stop)
        logger.info("redis-server started at %s (pid %d)", self.url, self._process.pid)
        return self

    def stop(self) -> None:
        """Stop the server and remove its directory; does nothing when it is not running."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("redis-server pid %d ignored SIGTERM for %ss; killing it", process.pid, _STOP_TIMEOUT_SECONDS)
                process.kill()
                process.wait(_STOP_TIMEOUT_SECONDS)
            logger.info("redis-server on port %d stopped", self.port)
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None
        self.port = self._requested_port

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start: {self._log_tail()}")
            if _answers_ping(self.host, self.port):
                return
            time.sleep(_POLL_SECONDS)
        raise RuntimeError(f"redis-server on port {self.port} did not respond to PING within {_START_TIMEOUT_SECONDS}s")

    def _log_tail(self) -> str:
        if self._directory is None:
            return ""
        log = Path(self._directory.name, "redis.log")
        if not log.exists():
            return "(no log written)"
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])

    def __enter__(self) -> LocalRedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self.running else "stopped"
        return f"LocalRedisServer({state})"


def _command(binary: str, host: str, port: int, directory: Path) -> list[str]:
    return [
        binary,
        "--port", str(port),
        "--bind", host,
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--logfile", str(directory / "redis.log"),
        "--loglevel", "warning",
    ]


def _free_port(host: str) -> int:
    # NOTE: another process may take the port between this probe and the
    # server's bind; start() then fails with redis-server's own message.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False
