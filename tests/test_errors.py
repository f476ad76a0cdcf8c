"""`errors`: which failures are retried, the server's suggested wait, and short summaries."""

from __future__ import annotations

import asyncio
import email.utils
import json
import subprocess
import sys
import textwrap
import types
from typing import Any

import aiohttp
import httpx
import openai
import pytest

from ratelimit_toolkit import _compat, errors
from ratelimit_toolkit.recording import OUTCOMES

try:  # openai 3.x builds its errors on httpx2; 1.x and 2.x on httpx.
    import httpx2 as openai_http
except ImportError:  # pragma: no cover - depends on the installed openai
    openai_http = httpx  # type: ignore[no-redef]

NOW = 1_800_000_000.0

STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


def status_error(status: int, body: dict[str, Any] | str | None = None, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    """Build the exception the `openai` client raises for an error response, without a server."""
    request = openai_http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    if isinstance(body, dict):
        response = openai_http.Response(status, json={"error": body}, headers=headers, request=request)
        message = f"Error code: {status} - {body.get('message')}"
    else:
        response = openai_http.Response(status, text=body or "", headers=headers, request=request)
        message = f"Error code: {status}"
    error_class = STATUS_ERRORS.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return error_class(message, response=response, body=body)


def error_body(message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


RATE_LIMITED = error_body(
    "Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): "
    "Limit 3, Used 3, Requested 1. Please try again in 20s. "
    "Please add a payment method to your account at https://platform.openai.com/account/billing.",
    "requests",
    "rate_limit_exceeded",
)
QUOTA = error_body(
    "You exceeded your current quota, please check your plan and billing details.",
    "insufficient_quota",
    "insufficient_quota",
)
CREDIT = error_body("Your credit balance is too low.", "insufficient_quota", "credit_balance_exhausted")
TOO_LARGE = error_body(
    "Request too large for gpt-4 in organization org-x on tokens per min (TPM): Limit 10000, Requested 30000. "
    "The input or output tokens must be reduced in order to run successfully.",
    "tokens",
    "rate_limit_exceeded",
)
CONTEXT = error_body(
    "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
    "invalid_request_error",
    "context_length_exceeded",
)
BAD_KEY = error_body("Incorrect API key provided: sk-abc***wxyz.", "invalid_request_error", "invalid_api_key")
HTML_502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body></html>"

CLASSIFY_CASES = [
    pytest.param(429, RATE_LIMITED, "rate_limited", True, id="429-rate-limit"),
    pytest.param(429, QUOTA, "quota", False, id="429-insufficient-quota"),
    pytest.param(429, CREDIT, "quota", False, id="429-credit-balance"),
    pytest.param(429, TOO_LARGE, "client_error", False, id="429-request-too-large"),
    pytest.param(429, "Too Many Requests", "rate_limited", True, id="429-plain-text"),
    pytest.param(400, CONTEXT, "client_error", False, id="400-context-length"),
    pytest.param(400, error_body("Invalid value", "invalid_request_error", None), "client_error", False, id="400"),
    pytest.param(401, BAD_KEY, "client_error", False, id="401"),
    pytest.param(403, error_body("Country not supported", "invalid_request_error", None), "client_error", False, id="403"),
    pytest.param(404, error_body("The model does not exist", "invalid_request_error", "model_not_found"), "client_error", False, id="404"),
    pytest.param(422, error_body("Unprocessable", "invalid_request_error", None), "client_error", False, id="422"),
    pytest.param(408, "Request Timeout", "timeout", True, id="408"),
    pytest.param(409, error_body("Conflict", None, None), "other", True, id="409"),
    pytest.param(500, error_body("The server had an error", "server_error", None), "server_error", True, id="500"),
    pytest.param(502, HTML_502, "server_error", True, id="502-html"),
    pytest.param(503, "<html><body>Service Unavailable</body></html>", "server_error", True, id="503-html"),
    pytest.param(504, "", "server_error", True, id="504-empty"),
    pytest.param(501, "Not Implemented", "server_error", False, id="501"),
]


@pytest.mark.parametrize(("status", "body", "kind", "retryable"), CLASSIFY_CASES)
def test_classify_response_table(status: int, body: object, kind: str, retryable: bool) -> None:
    failure = errors.classify_response(status, {}, body)
    assert failure.kind == kind
    assert failure.retryable is retryable
    assert failure.status == status


@pytest.mark.parametrize(("status", "body", "kind", "retryable"), CLASSIFY_CASES)
def test_classify_openai_exception_table(status: int, body: object, kind: str, retryable: bool) -> None:
    inner = body["error"] if isinstance(body, dict) else body
    failure = errors.classify(status_error(status, inner))
    assert failure.kind == kind
    assert failure.retryable is retryable


@pytest.mark.parametrize("code", sorted(errors.QUOTA_CODES))
def test_quota_codes_given_up(code: str) -> None:
    body = error_body("You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", code)
    assert errors.classify_response(429, {}, body).retryable is False


def test_slow_down_retried() -> None:
    body = error_body("Please reduce your rate of requests.", "requests", "slow_down")
    assert errors.classify_response(429, {}, body).kind == "rate_limited"


@pytest.mark.parametrize(("status", "body", "kind", "retryable"), CLASSIFY_CASES)
def test_kinds_are_recording_outcomes(status: int, body: object, kind: str, retryable: bool) -> None:
    assert errors.classify_response(status, {}, body).kind in OUTCOMES


def test_classify_reads_code() -> None:
    assert errors.classify(status_error(429, QUOTA["error"])).code == "insufficient_quota"


def test_classify_accepts_bytes_body() -> None:
    assert errors.classify_response(429, {}, json.dumps(QUOTA).encode()).kind == "quota"


def test_billing_words_do_not_mean_quota() -> None:
    # A new account's rate-limit message mentions billing; the code decides.
    assert errors.classify_response(429, {}, RATE_LIMITED).retryable is True


def test_requested_above_limit_is_too_large() -> None:
    body = error_body("Rate limit on tokens per min (TPM): Limit 1000, Requested 5000.", "tokens", "rate_limit_exceeded")
    assert errors.classify_response(429, {}, body).retryable is False


EXCEPTION_CASES = [
    pytest.param(ConnectionResetError("Connection reset by peer"), "connection_error", True, id="connection-reset"),
    pytest.param(ConnectionRefusedError("refused"), "connection_error", True, id="connection-refused"),
    pytest.param(TimeoutError("timed out"), "timeout", True, id="timeout"),
    pytest.param(asyncio.TimeoutError(), "timeout", True, id="asyncio-timeout"),
    pytest.param(httpx.ConnectError("refused"), "connection_error", True, id="httpx-connect"),
    pytest.param(httpx.RemoteProtocolError("Server disconnected"), "connection_error", True, id="httpx-disconnected"),
    pytest.param(httpx.ReadTimeout("read timed out"), "timeout", True, id="httpx-read-timeout"),
    pytest.param(aiohttp.ServerDisconnectedError(), "connection_error", True, id="aiohttp-disconnected"),
    pytest.param(aiohttp.ClientPayloadError("Response payload is not completed"), "connection_error", True, id="aiohttp-cut-body"),
    pytest.param(ValueError("bad input"), "other", False, id="value-error"),
    pytest.param(asyncio.CancelledError(), "other", False, id="cancelled"),
]


@pytest.mark.parametrize(("error", "kind", "retryable"), EXCEPTION_CASES)
def test_classify_exception_table(error: BaseException, kind: str, retryable: bool) -> None:
    failure = errors.classify(error)
    assert failure.kind == kind
    assert failure.retryable is retryable
    assert failure.status is None


def test_openai_connection_error_retried() -> None:
    request = openai_http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    assert errors.classify(openai.APIConnectionError(request=request)).kind == "connection_error"


def test_openai_timeout_retried() -> None:
    request = openai_http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    assert errors.classify(openai.APITimeoutError(request=request)).kind == "timeout"


def test_httpx_status_error_classified() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(503, text="<html>down</html>", headers={"retry-after": "3"}, request=request)
    failure = errors.classify(httpx.HTTPStatusError("503", request=request, response=response))
    assert failure.kind == "server_error"
    assert failure.suggested_wait_seconds == 3.0


def test_connection_error_names_cause() -> None:
    request = openai_http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    try:
        try:
            raise httpx.ReadError("connection reset")
        except httpx.ReadError as cause:
            raise openai.APIConnectionError(request=request) from cause
    except openai.APIConnectionError as error:
        failure = errors.classify(error)
    assert "ReadError: connection reset" in failure.message


# --- the server's suggested wait --------------------------------------------------


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(NOW + seconds_from_now, usegmt=True)


WAIT_CASES = [
    pytest.param({"retry-after-ms": "1500"}, "", 1.5, id="retry-after-ms"),
    pytest.param({"Retry-After-Ms": "250"}, "", 0.25, id="header-case"),
    pytest.param({"retry-after-ms": "1500", "retry-after": "9"}, "", 1.5, id="ms-wins"),
    pytest.param({"retry-after": "2"}, "", 2.0, id="retry-after-seconds"),
    pytest.param({"retry-after": "2.5"}, "", 2.5, id="retry-after-fraction"),
    pytest.param({"retry-after": http_date(30)}, "", 30.0, id="retry-after-date"),
    pytest.param({"retry-after": http_date(-30)}, "", None, id="retry-after-past-date"),
    pytest.param({"retry-after": email.utils.formatdate(NOW + 45)}, "", 45.0, id="retry-after-date-unknown-zone"),
    pytest.param({"retry-after": "Wed, 99 Foo 2015 77:00:00 GMT"}, "", None, id="retry-after-garbage-date"),
    pytest.param({"retry-after": "soon"}, "", None, id="retry-after-word"),
    pytest.param({"retry-after-ms": "-5"}, "", None, id="negative"),
    pytest.param({"retry-after-ms": "0"}, "", None, id="zero"),
    pytest.param({"retry-after": "0"}, "", None, id="zero-seconds"),
    pytest.param({"retry-after-ms": "nan"}, "", None, id="nan"),
    pytest.param({"retry-after-ms": "inf"}, "", None, id="inf"),
    pytest.param({"retry-after": "-inf"}, "", None, id="minus-inf"),
    pytest.param({"retry-after-ms": "1e400"}, "", None, id="overflow"),
    pytest.param({"retry-after": "99999999999"}, "", None, id="huge"),
    pytest.param({"retry-after-ms": ""}, "", None, id="empty"),
    pytest.param({"retry-after-ms": "abc", "retry-after": "3"}, "", 3.0, id="bad-ms-falls-through"),
    pytest.param({"x-ratelimit-reset-requests": "1s"}, "", 1.0, id="reset-1s"),
    pytest.param({"x-ratelimit-reset-tokens": "6m0s"}, "", 360.0, id="reset-6m0s"),
    pytest.param({"x-ratelimit-reset-tokens": "1m30.5s"}, "", 90.5, id="reset-1m30.5s"),
    pytest.param({"x-ratelimit-reset-requests": "20ms"}, "", 0.02, id="reset-20ms"),
    pytest.param({"x-ratelimit-reset-requests": "soon"}, "", None, id="reset-garbage"),
    pytest.param({"x-ratelimit-reset-requests": "-1s"}, "", None, id="reset-negative"),
    pytest.param({}, "Please try again in 1.5s.", 1.5, id="message-1.5s"),
    pytest.param({}, "Please try again in 20ms.", 0.02, id="message-20ms"),
    pytest.param({}, "Please try again in 6m0s.", 360.0, id="message-6m0s"),
    pytest.param({}, "Please retry after 7 seconds.", 7.0, id="message-retry-after"),
    pytest.param({}, "Please try again in 0s.", None, id="message-zero"),
    pytest.param({}, "Please try again later.", None, id="message-no-number"),
    pytest.param({"retry-after": "4"}, "Please try again in 1s.", 4.0, id="header-beats-message"),
    pytest.param({"x-ratelimit-reset-requests": "9s"}, "Please try again in 1s.", 1.0, id="message-beats-reset"),
    pytest.param({}, "", None, id="nothing"),
]


@pytest.mark.parametrize(("headers", "message", "expected"), WAIT_CASES)
def test_suggested_wait_table(headers: dict[str, str], message: str, expected: float | None) -> None:
    seconds = errors.suggested_wait_seconds(headers, message, now=lambda: NOW)
    if expected is None:
        assert seconds is None
    else:
        assert seconds == pytest.approx(expected)


def test_wait_reads_header_pairs() -> None:
    assert errors.suggested_wait_seconds([("Retry-After", "2")]) == 2.0


def test_wait_none_headers() -> None:
    assert errors.suggested_wait_seconds(None, "") is None


def test_reset_matches_limit_type() -> None:
    headers = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "30s"}
    assert errors.suggested_wait_seconds(headers, limit_type="requests") == 1.0


def test_reset_follows_exhausted_limit() -> None:
    headers = {
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-reset-tokens": "30s",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-remaining-tokens": "5000",
    }
    assert errors.suggested_wait_seconds(headers) == 1.0


def test_reset_unknown_limit_takes_later() -> None:
    headers = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "30s"}
    assert errors.suggested_wait_seconds(headers) == 30.0


def test_reset_ignored_for_server_error() -> None:
    failure = errors.classify_response(503, {"x-ratelimit-reset-requests": "1s"}, "<html>down</html>")
    assert failure.suggested_wait_seconds is None


def test_retry_after_kept_for_server_error() -> None:
    failure = errors.classify_response(503, {"retry-after": "5"}, "<html>down</html>")
    assert failure.suggested_wait_seconds == 5.0


def test_classify_tokens_429_uses_tokens_reset() -> None:
    body = error_body("Rate limit reached on tokens per min (TPM).", "tokens", "rate_limit_exceeded")
    headers = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "12s"}
    assert errors.classify_response(429, headers, body).suggested_wait_seconds == 12.0


def test_classify_exception_reads_headers() -> None:
    error = status_error(429, RATE_LIMITED["error"], {"retry-after-ms": "750"})
    assert errors.classify(error).suggested_wait_seconds == 0.75


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "1e400", "x", "Thu, 01 Jan 1970 00:00:00 GMT", "\x00"])
def test_malformed_headers_never_crash(value: str) -> None:
    headers = {
        "retry-after-ms": value,
        "retry-after": value,
        "x-ratelimit-reset-requests": value,
        "x-ratelimit-reset-tokens": value,
        "x-ratelimit-remaining-requests": value,
    }
    failure = errors.classify_response(429, headers, RATE_LIMITED)
    assert failure.retryable is True
    assert failure.suggested_wait_seconds == 20.0  # from the message, the only valid source left


# --- summaries -------------------------------------------------------------------


def test_summary_is_json_safe() -> None:
    summary = errors.summarize(status_error(502, HTML_502 * 5))
    assert json.loads(json.dumps(summary)) == summary


def test_summary_fields() -> None:
    summary = errors.summarize(status_error(429, QUOTA["error"]))
    assert summary == {"status": 429, "kind": "quota", "code": "insufficient_quota", "message": QUOTA["error"]["message"]}


def test_summary_truncates_text() -> None:
    summary = errors.summarize(status_error(503, "<html>" + "x" * 5000 + "</html>"))
    assert len(summary["message"]) == errors.SUMMARY_TEXT_CHARS


def test_summary_without_response() -> None:
    summary = errors.summarize(ConnectionResetError("reset by peer"))
    assert summary["status"] is None


def test_summary_masks_sk_key() -> None:
    body = error_body("Incorrect API key provided: sk-proj-abcdefghijklmnop1234.", "invalid_request_error", "invalid_api_key")
    summary = errors.summarize(status_error(401, body["error"]))
    assert "abcdefghijklmnop1234" not in json.dumps(summary)


def test_summary_masks_environment_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "mock-secret-key-123")
    summary = errors.summarize(ValueError("request with mock-secret-key-123 failed"))
    assert "mock-secret-key-123" not in summary["message"]


def test_redact_bearer_token() -> None:
    assert "tok123456" not in errors.redact("Authorization: Bearer tok123456")


def test_parse_duration_reexported() -> None:
    assert errors.parse_duration("6m0s") == 360.0


def test_failure_is_frozen() -> None:
    failure = errors.classify(ValueError("x"))
    with pytest.raises(AttributeError):
        failure.retryable = True  # type: ignore[misc]


# --- the openai version check ------------------------------------------------------


def test_require_openai_accepts_installed() -> None:
    assert _compat.require_openai(openai) is openai


def test_require_openai_rejects_0x_module() -> None:
    old = types.ModuleType("openai")
    old.__version__ = "0.28.1"  # type: ignore[attr-defined]
    with pytest.raises(ImportError, match=r"openai>=1\.40"):
        _compat.require_openai(old)


def test_require_openai_rejects_old_1x() -> None:
    old = types.ModuleType("openai")
    old.__version__ = "1.39.0"  # type: ignore[attr-defined]
    for name in ("APIConnectionError", "APIError", "APIStatusError", "APITimeoutError", "AsyncOpenAI", "OpenAI", "RateLimitError"):
        setattr(old, name, type(name, (Exception,), {}))
    with pytest.raises(ImportError, match=r"openai>=1\.40"):
        _compat.require_openai(old)


@pytest.mark.parametrize("module", ["ratelimit_toolkit.errors", "ratelimit_toolkit.retry"])
def test_import_fails_with_old_openai(module: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys, types
        old = types.ModuleType("openai")
        old.__version__ = "0.28.1"
        old.error = types.SimpleNamespace(RateLimitError=Exception)
        sys.modules["openai"] = old
        try:
            import {module}
        except ImportError as error:
            print(error)
        else:
            print("imported")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert "openai>=1.40" in result.stdout, result.stdout + result.stderr
