"""Deterministic answer text and embedding vectors.

The same request body always produces the same answers: a BLAKE2 digest of
the body's canonical JSON seeds every random choice. Text is assembled from
a small built-in list of sentences, in Korean when the prompt contains Hangul
(or when the server's `language` setting says so), and cut to the request's
output cap counted in the model's tokens.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import random
import struct
from dataclasses import dataclass
from typing import Any, Literal

from ratelimit_toolkit import tokens

Language = Literal["en", "ko"]

#: Bounds of an answer's natural length in tokens, before any output cap.
MIN_ANSWER_TOKENS = 8
MAX_ANSWER_TOKENS = 120

#: Length of an embedding vector when the request sets no `dimensions`.
DEFAULT_EMBEDDING_DIMENSIONS = 8

# One encoder for every request: `json.dumps` with options builds a new one per call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

_SENTENCES: dict[Language, tuple[str, ...]] = {
    "en": (
        "The morning train left on time, and most passengers read quietly.",
        "A small garden needs water, patience and a little sunlight every day.",
        "Good notes save more time than fast typing.",
        "The library on the corner stays open late on Thursdays.",
        "Mountains look closer on clear days after the rain.",
        "A steady pace usually beats a sprint followed by a long rest.",
        "The recipe calls for two eggs, a cup of flour and a pinch of salt.",
        "Most bugs hide in the code that nobody wanted to test.",
        "The river was calm, so the boats crossed it one after another.",
        "Short meetings with a clear agenda tend to end with decisions.",
        "Fresh bread smells best while it is still warm.",
        "The map showed three trails, and the shortest one was the steepest.",
        "A queue that moves slowly still moves.",
        "The old clock in the hall gains a minute every week.",
        "Reading the error message twice often reveals the fix.",
        "Autumn leaves covered the path between the two houses.",
        "Each step of the plan was small enough to check by hand.",
        "The cat slept through the storm without moving once.",
        "Careful measurements beat confident guesses.",
        "The bus stopped at every corner, so the trip took an hour.",
    ),
    "ko": (
        "아침 기차는 제시간에 출발했고 승객들은 조용히 책을 읽었습니다.",
        "작은 정원에는 매일 물과 햇빛, 그리고 약간의 인내가 필요합니다.",
        "잘 정리한 메모는 빠른 타자보다 더 많은 시간을 아껴 줍니다.",
        "모퉁이에 있는 도서관은 목요일마다 늦게까지 문을 엽니다.",
        "비가 그친 뒤 맑은 날에는 산이 더 가까워 보입니다.",
        "꾸준한 속도가 전력 질주 뒤의 긴 휴식보다 대개 낫습니다.",
        "이 요리에는 달걀 두 개와 밀가루 한 컵, 소금 약간이 들어갑니다.",
        "버그는 대부분 아무도 시험하고 싶어 하지 않던 코드에 숨어 있습니다.",
        "강물이 잔잔해서 배들이 차례로 강을 건넜습니다.",
        "안건이 분명한 짧은 회의는 결정으로 끝나는 경우가 많습니다.",
        "갓 구운 빵은 아직 따뜻할 때 냄새가 가장 좋습니다.",
        "지도에는 길이 세 개 있었는데 가장 짧은 길이 가장 가팔랐습니다.",
        "천천히 움직이는 줄도 결국은 앞으로 나아갑니다.",
        "복도에 있는 오래된 시계는 매주 1분씩 빨라집니다.",
        "오류 메시지를 두 번 읽으면 해결책이 보이는 경우가 많습니다.",
        "두 집 사이의 길은 가을 낙엽으로 덮여 있었습니다.",
        "계획의 각 단계는 손으로 확인할 수 있을 만큼 작았습니다.",
        "고양이는 폭풍이 치는 동안 한 번도 움직이지 않고 잤습니다.",
        "꼼꼼한 측정이 자신 있는 추측보다 낫습니다.",
        "버스가 모퉁이마다 서는 바람에 가는 데 한 시간이 걸렸습니다.",
    ),
}


@dataclass(frozen=True)
class Answer:
    """One generated choice.

    Attributes:
        text: the answer text.
        completion_tokens: its length in the model's tokens.
        finish_reason: `stop`, or `length` when the output cap cut it short.
    """

    text: str
    completion_tokens: int
    finish_reason: Literal["stop", "length"]


def body_digest(body: Any) -> bytes:
    """Hash a JSON value by its canonical form, so key order does not change answers."""
    canonical = _CANONICAL_JSON.encode(body)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).digest()


def choice_seed(digest: bytes, prompt_index: int, choice_index: int) -> bytes:
    """Derive the seed of one choice from the request digest."""
    return hashlib.blake2b(b"%b|%d|%d" % (digest, prompt_index, choice_index), digest_size=16).digest()


def contains_hangul(text: str) -> bool:
    """Tell whether `text` contains a Hangul syllable or jamo."""
    return any("\uac00" <= char <= "\ud7a3" or "\u1100" <= char <= "\u11ff" or "\u3130" <= char <= "\u318f" for char in text)


def pick_language(setting: str, prompt_text: str) -> Language:
    """Choose the answer language from the `language` setting and the prompt."""
    if setting == "ko":
        return "ko"
    if setting == "en":
        return "en"
    return "ko" if contains_hangul(prompt_text) else "en"


@functools.lru_cache(maxsize=8192)
def compose_answer(seed: bytes, language: Language, output_cap: int | None, model: str) -> Answer:
    """Build the answer for one choice; the same arguments always give the same answer.

    The natural length is drawn from the seed between `MIN_ANSWER_TOKENS` and
    `MAX_ANSWER_TOKENS`. Within it the answer is whole sentences ending with
    `stop`. When `output_cap` is smaller, the answer fills the cap word by word
    and ends with `length`, as a model cut off by `max_tokens` does.
    """
    rng = random.Random(seed)
    natural_tokens = rng.randint(MIN_ANSWER_TOKENS, MAX_ANSWER_TOKENS)
    encoding_name = tokens.encoding_name_for_model(model)
    sentences = _sentence_stream(rng, language)

    if output_cap is None or natural_tokens <= output_cap:
        pieces = _fill_sentences(sentences, natural_tokens, output_cap, encoding_name)
        if pieces is not None:
            return _finish(pieces, model, output_cap, "stop")
    cap = natural_tokens if output_cap is None else output_cap
    return _finish(_fill_words(sentences, cap, encoding_name), model, cap, "length")


def embedding_vector(model: str, item: Any, dimensions: int) -> list[float]:
    """Build a unit-length vector that depends only on the model, the input and `dimensions`."""
    seed = body_digest([model, item, dimensions])
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [round(value / norm, 6) for value in values]


def encode_embedding_base64(vector: list[float]) -> str:
    """Encode a vector as OpenAI's `encoding_format="base64"` does: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _sentence_stream(rng: random.Random, language: Language) -> list[str]:
    """Draw sentences in a seeded order, enough for the longest answer."""
    pool = list(_SENTENCES[language])
    rng.shuffle(pool)
    return pool


def _fill_sentences(sentences: list[str], target: int, cap: int | None, encoding_name: str) -> list[str] | None:
    """Take whole sentences up to `target` tokens; None if even the first breaks the cap."""
    pieces: list[str] = []
    count = 0
    for sentence in sentences:
        piece = sentence if not pieces else " " + sentence
        cost = _piece_tokens(piece, encoding_name)
        if pieces and count + cost > target:
            break
        if cap is not None and count + cost > cap:
            return None
        pieces.append(piece)
        count += cost
    return pieces


def _fill_words(sentences: list[str], cap: int, encoding_name: str) -> list[str]:
    pieces: list[str] = []
    count = 0
    for word in " ".join(sentences).split(" "):
        piece = word if not pieces else " " + word
        cost = _piece_tokens(piece, encoding_name)
        if count + cost > cap:
            break
        pieces.append(piece)
        count += cost
    return pieces


def _finish(pieces: list[str], model: str, cap: int | None, reason: Literal["stop", "length"]) -> Answer:
    # Every piece after the first starts at a space, where these encodings split
    # words anyway, so the piece counts add up to the count of the joined text.
    # The exact recount below still guards the cap.
    text = "".join(pieces)
    count = tokens.count_text_tokens(text, model)
    while cap is not None and count > cap and pieces:
        pieces.pop()
        text = "".join(pieces)
        count = tokens.count_text_tokens(text, model)
    return Answer(text=text, completion_tokens=count, finish_reason=reason)


@functools.lru_cache(maxsize=4096)
def _piece_tokens(piece: str, encoding_name: str) -> int:
    encoder = tokens.get_encoder(encoding_name)
    if encoder is None:
        return tokens.estimate_tokens_from_characters(piece)
    return len(encoder.encode(piece, disallowed_special=()))
