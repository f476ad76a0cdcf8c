"""The mock server's Files and Batches APIs, driven by the real `openai` client over loopback."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from openai.types import Batch

from ratelimit_toolkit.mock import MockServer, MockSettings

#: Batches that validate, run and finalize without waiting.
INSTANT = {"batch_validating_seconds": 0.0, "batch_seconds_per_request": 0.0, "batch_finalizing_seconds": 0.0}
FINAL = {"completed", "failed", "expired", "cancelled"}

ServerFactory = Callable[..., MockServer]
ClientFactory = Callable[..., openai.OpenAI]


def chat_body(text: str, model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 20}


def request_line(custom_id: str, body: dict[str, Any], url: str = "/v1/chat/completions", method: str = "POST") -> str:
    return json.dumps({"custom_id": custom_id, "method": method, "url": url, "body": body}, ensure_ascii=False)


def upload(client: openai.OpenAI, lines: list[str], purpose: str = "batch") -> str:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return client.files.create(file=("input.jsonl", io.BytesIO(data)), purpose=purpose).id  # type: ignore[arg-type]


def run_batch(client: openai.OpenAI, lines: list[str], **create: Any) -> Batch:
    create.setdefault("endpoint", "/v1/chat/completions")
    batch = client.batches.create(input_file_id=upload(client, lines), completion_window="24h", **create)
    return wait_final(client, batch.id)


def wait_final(client: openai.OpenAI, batch_id: str, timeout_seconds: float = 10.0) -> Batch:
    deadline = time.monotonic() + timeout_seconds
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in FINAL or time.monotonic() > deadline:
            return batch
        time.sleep(0.01)


def wait_status(client: openai.OpenAI, batch_id: str, status: str, timeout_seconds: float = 10.0) -> Batch:
    deadline = time.monotonic() + timeout_seconds
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status == status or batch.status in FINAL or time.monotonic() > deadline:
            return batch
        time.sleep(0.005)


def read_lines(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def by_custom_id(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["custom_id"]: line for line in lines}


@pytest.fixture
def instant_server(mock_server: ServerFactory) -> MockServer:
    return mock_server(**INSTANT)


def test_file_upload_round_trip(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    file_id = upload(client, [request_line("a", chat_body("hi"))])
    stored = client.files.retrieve(file_id)
    assert stored.purpose == "batch"
    assert stored.filename == "input.jsonl"
    assert stored.bytes == len(request_line("a", chat_body("hi"))) + 1
    assert json.loads(client.files.content(file_id).text)["custom_id"] == "a"


def test_file_upload_rejects_unknown_purpose(instant_server: MockServer, make_client: ClientFactory) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        upload(make_client(instant_server), ["{}"], purpose="holiday-photos")
    assert "purpose" in str(caught.value)


def test_file_upload_needs_multipart(instant_server: MockServer) -> None:
    response = httpx.post(f"{instant_server.base_url}/files", json={"purpose": "batch"},
                          headers={"Authorization": "Bearer sk-test"})
    assert response.status_code == 400
    assert "multipart" in response.json()["error"]["message"]


def test_file_routes_need_key(instant_server: MockServer) -> None:
    response = httpx.get(f"{instant_server.base_url}/batches")
    assert response.status_code == 401


def test_file_missing_is_404(instant_server: MockServer, make_client: ClientFactory) -> None:
    with pytest.raises(openai.NotFoundError):
        make_client(instant_server).files.retrieve("file-doesnotexist")


def test_file_delete_removes_it(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    file_id = upload(client, ["{}"])
    assert client.files.delete(file_id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file_id)


@pytest.mark.parametrize(
    ("create", "param"),
    [
        ({"endpoint": "/v1/moderations"}, "endpoint"),
        ({"completion_window": "48h"}, "completion_window"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ],
)
def test_batch_create_rejects_bad_options(instant_server: MockServer, make_client: ClientFactory,
                                          create: dict[str, Any], param: str) -> None:
    client = make_client(instant_server)
    options = {"endpoint": "/v1/chat/completions", "completion_window": "24h", **create}
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(input_file_id=upload(client, [request_line("a", chat_body("x"))]), **options)
    assert caught.value.param == param


def test_batch_create_needs_known_file(instant_server: MockServer, make_client: ClientFactory) -> None:
    with pytest.raises(openai.NotFoundError):
        make_client(instant_server).batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions",
                                                   completion_window="24h")


def test_batch_create_needs_batch_purpose(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    file_id = upload(client, [request_line("a", chat_body("x"))], purpose="user_data")
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    assert caught.value.param == "input_file_id"


def test_batch_completes_with_counts_and_times(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    lines = [request_line(f"req-{i}", chat_body(f"question {i}")) for i in range(5)]
    batch = run_batch(client, lines, metadata={"purpose": "test"})
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (5, 5, 0)
    assert batch.in_progress_at is not None
    assert batch.finalizing_at is not None
    assert batch.completed_at is not None
    assert batch.expires_at == batch.created_at + 24 * 3600
    assert batch.model == "gpt-4o-mini"
    assert batch.metadata == {"purpose": "test"}
    assert batch.error_file_id is None
    assert set(by_custom_id(read_lines(client, batch.output_file_id))) == {f"req-{i}" for i in range(5)}


def test_batch_moves_through_statuses(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_validating_seconds=0.2, batch_seconds_per_request=0.02, batch_finalizing_seconds=0.2)
    client = make_client(server)
    batch = client.batches.create(input_file_id=upload(client, [request_line(f"r{i}", chat_body("x")) for i in range(20)]),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    seen = [batch.status]
    deadline = time.monotonic() + 10
    while seen[-1] not in FINAL and time.monotonic() < deadline:
        status = client.batches.retrieve(batch.id).status
        if status != seen[-1]:
            seen.append(status)
        time.sleep(0.01)
    assert seen == ["validating", "in_progress", "finalizing", "completed"]


def test_batch_answer_equals_live_answer(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    body = chat_body("배치와 실시간 답이 같은가요?")
    live = client.chat.completions.create(**body)
    batch = run_batch(client, [request_line("same", body)])
    line = read_lines(client, batch.output_file_id)[0]
    assert line["response"]["status_code"] == 200
    assert line["response"]["request_id"].startswith("req_")
    assert line["response"]["body"]["choices"][0]["message"]["content"] == live.choices[0].message.content
    assert line["response"]["body"]["usage"] == live.usage.model_dump(exclude_none=True)  # type: ignore[union-attr]


def test_batch_line_errors_go_to_error_file(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_failing_custom_ids=r"^bad-", **INSTANT)
    client = make_client(server)
    lines = [request_line("good-1", chat_body("a")), request_line("bad-1", chat_body("b")),
             request_line("no-messages", {"model": "gpt-4o-mini"})]
    batch = run_batch(client, lines)
    errors = by_custom_id(read_lines(client, batch.error_file_id))
    assert batch.status == "completed"
    assert batch.request_counts is not None and batch.request_counts.failed == 2
    assert errors["bad-1"]["response"]["status_code"] == 500
    assert errors["bad-1"]["response"]["body"]["error"]["type"] == "server_error"
    assert errors["no-messages"]["response"]["status_code"] == 400
    assert set(by_custom_id(read_lines(client, batch.output_file_id))) == {"good-1"}


def test_batch_failure_rate_is_seeded(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_failure_rate=0.3, seed=7, **INSTANT)
    client = make_client(server)
    lines = [request_line(f"r{i}", chat_body(f"q{i}")) for i in range(40)]
    failed_sets = []
    for _ in range(2):
        batch = run_batch(client, lines)
        failed_sets.append(set(by_custom_id(read_lines(client, batch.error_file_id))))
    assert failed_sets[0] == failed_sets[1]
    assert 0 < len(failed_sets[0]) < 40


def test_batch_output_order_is_shuffled(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    ids = [f"r{i:02d}" for i in range(30)]
    batch = run_batch(client, [request_line(custom_id, chat_body(custom_id)) for custom_id in ids])
    assert [line["custom_id"] for line in read_lines(client, batch.output_file_id)] != ids


GOOD = request_line("ok", chat_body("fine"))


@pytest.mark.parametrize(
    ("lines", "code", "line"),
    [
        (["{not json"], "invalid_json_line", 1),
        ([GOOD, json.dumps({"method": "POST", "url": "/v1/chat/completions", "body": chat_body("x")})],
         "missing_required_parameter", 2),
        ([GOOD, request_line("ok", chat_body("again"))], "duplicate_custom_id", 2),
        ([request_line("a", chat_body("x"), method="GET")], "invalid_method", 1),
        ([request_line("a", chat_body("x"), url="/v1/embeddings")], "invalid_url", 1),
        ([GOOD, request_line("b", chat_body("x", model="gpt-4o"))], "mismatched_model", 2),
        ([json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions"})],
         "missing_required_parameter", 1),
        ([json.dumps(["a", "list"])], "invalid_json_line", 1),
        ([json.dumps({"custom_id": 5, "method": "POST", "url": "/v1/chat/completions", "body": chat_body("x")})],
         "invalid_custom_id", 1),
    ],
)
def test_batch_validation_failures(instant_server: MockServer, make_client: ClientFactory,
                                   lines: list[str], code: str, line: int) -> None:
    batch = run_batch(make_client(instant_server), lines)
    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.errors is not None and batch.errors.data is not None
    assert (batch.errors.data[0].code, batch.errors.data[0].line) == (code, line)


def test_batch_validation_empty_file(instant_server: MockServer, make_client: ClientFactory) -> None:
    batch = run_batch(make_client(instant_server), [""])
    assert batch.errors is not None and batch.errors.data is not None
    assert batch.errors.data[0].code == "empty_file"


def test_batch_validation_too_many_lines(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_max_requests=3, **INSTANT)
    batch = run_batch(make_client(server), [request_line(f"r{i}", chat_body("x")) for i in range(4)])
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors.data is not None
    assert batch.errors.data[0].code == "too_many_lines"


def test_batch_validation_too_large(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_max_file_bytes=100, **INSTANT)
    batch = run_batch(make_client(server), [request_line(f"r{i}", chat_body("x")) for i in range(2)])
    assert batch.errors is not None and batch.errors.data is not None
    assert batch.errors.data[0].code == "file_too_large"


def test_batch_expires_with_partial_results(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_expire_after_requests=3, **INSTANT)
    client = make_client(server)
    batch = run_batch(client, [request_line(f"r{i}", chat_body(f"q{i}")) for i in range(5)])
    errors = read_lines(client, batch.error_file_id)
    assert batch.status == "expired"
    assert batch.expired_at is not None
    assert len(read_lines(client, batch.output_file_id)) == 3
    assert [line["error"]["code"] for line in errors] == ["batch_expired", "batch_expired"]
    assert all(line["response"] is None for line in errors)


def test_batch_expires_after_window(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.05, batch_finalizing_seconds=0.0,
                         batch_completion_window_seconds=0.2)
    client = make_client(server)
    batch = run_batch(client, [request_line(f"r{i}", chat_body("q")) for i in range(40)])
    assert batch.status == "expired"
    assert batch.request_counts is not None and 0 < batch.request_counts.completed < 40


def test_batch_cancel_keeps_finished_requests(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.05, batch_finalizing_seconds=0.05)
    client = make_client(server)
    batch = client.batches.create(input_file_id=upload(client, [request_line(f"r{i}", chat_body("q")) for i in range(40)]),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    wait_status(client, batch.id, "in_progress")
    cancelling = client.batches.cancel(batch.id)
    final = wait_final(client, batch.id)
    errors = read_lines(client, final.error_file_id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    assert final.status == "cancelled"
    assert final.cancelled_at is not None
    assert final.request_counts is not None
    assert len(read_lines(client, final.output_file_id)) == final.request_counts.completed
    assert {line["error"]["code"] for line in errors} == {"batch_cancelled"}
    assert len(errors) == 40 - final.request_counts.completed


def test_batch_cancel_after_end_is_conflict(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    batch = run_batch(client, [GOOD])
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch.id)


def test_batch_token_limit_refuses_batch(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_enqueued_token_limit=10, **INSTANT)
    batch = run_batch(make_client(server), [request_line(f"r{i}", chat_body("a long enough question")) for i in range(3)])
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors.data is not None
    assert batch.errors.data[0].code == "token_limit_exceeded"
    assert batch.errors.data[0].message == (
        "Enqueued token limit reached for gpt-4o-mini in organization org-mock. Limit: 10 enqueued tokens. "
        "Please try again once some in_progress batches have been completed."
    )


def test_batch_token_limit_counts_running_batches(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(batch_validating_seconds=0.0, batch_seconds_per_request=0.02, batch_finalizing_seconds=0.0,
                         batch_enqueued_token_limit=300)
    client = make_client(server)
    lines = [request_line(f"r{i}", chat_body(f"question {i}")) for i in range(20)]  # about 200 prompt tokens
    first = client.batches.create(input_file_id=upload(client, lines), endpoint="/v1/chat/completions",
                                  completion_window="24h")
    wait_status(client, first.id, "in_progress")
    refused = run_batch(client, lines)
    assert wait_final(client, first.id).status == "completed"
    assert refused.status == "failed"
    assert run_batch(client, lines).status == "completed"


def test_batch_lines_do_not_use_rpm(mock_server: ServerFactory, make_client: ClientFactory) -> None:
    server = mock_server(rpm=1, tpm=100, **INSTANT)
    client = make_client(server)
    batch = run_batch(client, [request_line(f"r{i}", chat_body(f"question {i}")) for i in range(10)])
    totals = server.stats()["totals"]
    assert batch.status == "completed"
    assert totals["admitted"] == 0
    assert totals["tokens_charged"] == 0


def test_batch_list_pages(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    ids = [run_batch(client, [GOOD]).id for _ in range(3)]
    first_page = client.batches.list(limit=2)
    assert [batch.id for batch in first_page.data] == [ids[2], ids[1]]
    assert first_page.has_more is True
    assert [batch.id for batch in client.batches.list(limit=2)] == [ids[2], ids[1], ids[0]]


def test_batch_list_rejects_bad_limit(instant_server: MockServer) -> None:
    response = httpx.get(f"{instant_server.base_url}/batches", params={"limit": "500"},
                         headers={"Authorization": "Bearer sk-test"})
    assert response.status_code == 400


def test_batch_embeddings_endpoint(instant_server: MockServer, make_client: ClientFactory) -> None:
    client = make_client(instant_server)
    line = request_line("e1", {"model": "text-embedding-3-small", "input": "hello"}, url="/v1/embeddings")
    batch = run_batch(client, [line], endpoint="/v1/embeddings")
    body = read_lines(client, batch.output_file_id)[0]["response"]["body"]
    live = httpx.post(f"{instant_server.base_url}/embeddings", json={"model": "text-embedding-3-small", "input": "hello"},
                      headers={"Authorization": "Bearer sk-test"}).json()
    assert body["object"] == "list"
    assert body == live


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("batch_failure_rate", 1.5),
        ("batch_failing_custom_ids", "(unclosed"),
        ("batch_seconds_per_request", -1.0),
        ("batch_completion_window_seconds", 0.0),
        ("batch_max_requests", 0),
        ("batch_expire_after_requests", -1),
        ("batch_enqueued_token_limit", True),
    ],
)
def test_batch_settings_reject_bad_values(setting: str, value: object) -> None:
    with pytest.raises(ValueError, match=setting):
        MockSettings(**{setting: value})
