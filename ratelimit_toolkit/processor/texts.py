"""The processor's user-facing text, in English and Korean (see `ratelimit_toolkit.messages`)."""

from __future__ import annotations

from ratelimit_toolkit import messages

messages.register(
    {
        "processor.progress": {"en": "Processing", "ko": "처리 중"},
        "processor.postfix": {
            "en": "req/min={rpm:,.0f} tok/min={tpm:,.0f} 429s={rate_limited}",
            "ko": "분당 요청={rpm:,.0f} 분당 토큰={tpm:,.0f} 429={rate_limited}",
        },
        "processor.summary.title": {"en": "Processing summary", "ko": "처리 요약"},
        "processor.summary.lines": {
            "en": "Input lines: {total:,} (answered before this run: {before:,})",
            "ko": "입력 줄: {total:,} (이번 실행 전에 처리된 줄: {before:,})",
        },
        "processor.summary.succeeded": {"en": "Succeeded: {count:,}", "ko": "성공: {count:,}"},
        "processor.summary.failed": {"en": "Failed: {count:,}{details}", "ko": "실패: {count:,}{details}"},
        "processor.summary.unanswered": {
            "en": "Unanswered (rerun the same command to resume): {count:,}",
            "ko": "미처리 (같은 명령을 다시 실행하면 이어서 처리합니다): {count:,}",
        },
        "processor.summary.retries": {
            "en": "Retries: {retries:,}, rate-limit 429s: {rate_limited:,}",
            "ko": "재시도: {retries:,}, 속도 제한 429: {rate_limited:,}",
        },
        "processor.summary.elapsed": {"en": "Elapsed: {seconds:.1f} s", "ko": "경과 시간: {seconds:.1f}초"},
        "processor.summary.rpm": {
            "en": "Requests per minute: {achieved} (limit: {limit})",
            "ko": "분당 요청 수: {achieved} (한도: {limit})",
        },
        "processor.summary.tpm": {
            "en": "Tokens per minute: {achieved} (limit: {limit})",
            "ko": "분당 토큰 수: {achieved} (한도: {limit})",
        },
        "processor.limit.given": {"en": "{value:,} as given", "ko": "지정값 {value:,}"},
        "processor.limit.learned": {"en": "{value:,} from response headers", "ko": "응답 헤더에서 읽은 {value:,}"},
        "processor.limit.unknown": {"en": "unknown", "ko": "알 수 없음"},
        "processor.stop.quota": {
            "en": "Stopped: the API reports insufficient quota ({code}), which no wait fixes. "
            "Check your plan and billing; lines not yet answered stay unanswered, "
            "so rerun the same command to resume.",
            "ko": "중단: API가 할당량 부족({code})을 알렸습니다. 기다려도 해결되지 않습니다. "
            "요금제와 결제 정보를 확인하세요. 처리되지 않은 줄은 그대로 남아 있으니 "
            "같은 명령을 다시 실행하면 이어서 처리합니다.",
        },
        "processor.stop.auth": {
            "en": "Stopped: the API rejected the API key (HTTP {status}). "
            "Check OPENAI_API_KEY, then rerun the same command to resume.",
            "ko": "중단: API가 API 키를 거부했습니다(HTTP {status}). "
            "OPENAI_API_KEY를 확인한 뒤 같은 명령을 다시 실행하면 이어서 처리합니다.",
        },
        "processor.stop.max_lines": {
            "en": "Stopped after {count:,} lines, as max_lines asked; rerun to process the rest.",
            "ko": "max_lines 설정에 따라 {count:,}줄을 처리하고 멈췄습니다. 다시 실행하면 나머지를 처리합니다.",
        },
        "processor.stop.cancelled": {
            "en": "Interrupted; finished lines are saved. Rerun the same command to resume.",
            "ko": "중단되었습니다. 끝난 줄은 저장되었습니다. 같은 명령을 다시 실행하면 이어서 처리합니다.",
        },
        "processor.error.no_key": {
            "en": "OPENAI_API_KEY is not set; export your API key "
            "(for the local mock server any non-empty value works, e.g. sk-mock).",
            "ko": "OPENAI_API_KEY가 설정되지 않았습니다. API 키를 환경 변수로 지정하세요 "
            "(로컬 모의 서버에는 sk-mock 같은 아무 값이나 됩니다).",
        },
        "processor.error.redis_unavailable": {
            "en": "Redis at {url} is unavailable ({error}), so the rate limits cannot be shared. "
            "Start redis-server there or fix --redis-url; leave --redis-url out to limit this process alone.",
            "ko": "{url}의 Redis에 연결할 수 없어 ({error}) 속도 제한을 공유할 수 없습니다. "
            "그곳에서 redis-server를 시작하거나 --redis-url을 고치세요. "
            "이 프로세스만 따로 제한하려면 --redis-url을 빼세요.",
        },
        "processor.error.input_missing": {
            "en": "input file {path} not found; pass a JSONL file with one request body per line.",
            "ko": "입력 파일 {path}을(를) 찾을 수 없습니다. 한 줄에 요청 본문 하나씩 담긴 JSONL 파일을 지정하세요.",
        },
    }
)
