"""Realistic sample input files for lessons, tests and benchmarks: mixed Korean and English chat requests."""

from __future__ import annotations

import json
import random
from pathlib import Path

_TASKS_KO = (
    "다음 고객 리뷰를 한 문장으로 요약해 주세요: {item}",
    "다음 문장의 감정을 긍정, 부정, 중립 중 하나로 분류해 주세요: {item}",
    "다음 문장을 자연스러운 영어로 번역해 주세요: {item}",
    "다음 내용을 바탕으로 짧은 상품 설명을 써 주세요: {item}",
)
_TASKS_EN = (
    "Summarise this customer review in one sentence: {item}",
    "Classify the sentiment of this sentence as positive, negative or neutral: {item}",
    "Translate this sentence into natural Korean: {item}",
    "Write a short product description based on this note: {item}",
)
_ITEMS_KO = (
    "배송은 빨랐지만 포장이 조금 찌그러져 왔어요.",
    "화면이 밝고 선명해서 밤에 쓰기에도 좋습니다.",
    "배터리가 하루를 못 버텨서 실망했습니다.",
    "설명서가 친절해서 처음 쓰는 사람도 쉽게 설치했어요.",
    "가격에 비해 소리가 훌륭하고 무게도 가볍습니다.",
    "고객센터 답변이 늦어서 환불까지 2주가 걸렸어요.",
)
_ITEMS_EN = (
    "The delivery was quick, but the box arrived slightly dented.",
    "The screen is bright and sharp, even at night.",
    "The battery does not last a full day, which is disappointing.",
    "Clear instructions made the setup easy for a first-time user.",
    "Great sound for the price, and it is light to carry.",
    "Support took two weeks to answer, so the refund was slow.",
)


def write_sample_requests(
    path: str | Path,
    count: int,
    *,
    model: str = "gpt-4o-mini",
    seed: int = 7,
    max_tokens_choices: tuple[int, ...] = (40, 60, 80),
) -> Path:
    """Write `count` chat completion requests, one JSON object per line, and return the path.

    About half the prompts are Korean and half English. Every line carries
    `metadata` with a `request_id` and its `lang`, which the processor copies
    into the output. The same `seed` always writes the same file.

    Raises:
        ValueError: `count` is negative or `max_tokens_choices` is empty.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not max_tokens_choices:
        raise ValueError("max_tokens_choices must name at least one max_tokens value")

    rng = random.Random(seed)
    target = Path(path)
    with open(target, "w", encoding="utf-8") as handle:
        for number in range(count):
            handle.write(json.dumps(_sample_request(number, rng, model, max_tokens_choices), ensure_ascii=False) + "\n")
    return target


def _sample_request(number: int, rng: random.Random, model: str, max_tokens_choices: tuple[int, ...]) -> dict[str, object]:
    korean = rng.random() < 0.5
    tasks, items = (_TASKS_KO, _ITEMS_KO) if korean else (_TASKS_EN, _ITEMS_EN)
    prompt = rng.choice(tasks).format(item=rng.choice(items))
    return {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": rng.choice(max_tokens_choices),
        "metadata": {"request_id": f"req-{number:04d}", "lang": "ko" if korean else "en"},
    }
