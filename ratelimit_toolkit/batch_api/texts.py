"""The batch job's user-facing text, in English and Korean (see `ratelimit_toolkit.messages`)."""

from __future__ import annotations

from ratelimit_toolkit import messages

messages.register(
    {
        "batch.progress": {"en": "Batch requests", "ko": "배치 요청"},
        "batch.summary.title": {"en": "Batch API summary", "ko": "배치 API 요약"},
        "batch.summary.lines": {
            "en": "Input lines: {total:,} (answered before this run: {before:,})",
            "ko": "입력 줄: {total:,} (이번 실행 전에 처리된 줄: {before:,})",
        },
        "batch.summary.succeeded": {"en": "Succeeded: {count:,}", "ko": "성공: {count:,}"},
        "batch.summary.failed": {"en": "Failed: {count:,}{details}", "ko": "실패: {count:,}{details}"},
        "batch.summary.unanswered": {
            "en": "Unanswered (rerun the same command to resume): {count:,}",
            "ko": "미처리 (같은 명령을 다시 실행하면 이어서 처리합니다): {count:,}",
        },
        "batch.summary.batches": {
            "en": "Parts: {parts:,} ({done:,} done); batches created in this run: {created:,}; last statuses: {statuses}",
            "ko": "파트: {parts:,}개 (완료 {done:,}개), 이번 실행에서 만든 배치: {created:,}개, 마지막 상태: {statuses}",
        },
        "batch.summary.tokens": {
            "en": "Tokens in the responses merged in this run: {prompt:,} prompt, {completion:,} completion",
            "ko": "이번 실행에서 합친 응답의 토큰: 프롬프트 {prompt:,}, 완성 {completion:,}",
        },
        "batch.summary.elapsed": {"en": "Elapsed: {seconds:.1f} s", "ko": "경과 시간: {seconds:.1f}초"},
        "batch.note.expired": {
            "en": "{count:,} lines expired before their batch ran them; rerun the same command to submit them again.",
            "ko": "{count:,}줄은 배치가 실행하기 전에 완료 기한이 지났습니다. 같은 명령을 다시 실행하면 다시 제출합니다.",
        },
        "batch.note.cancelled": {
            "en": "{count:,} lines were not run because their batch was cancelled; rerun the same command to submit them again.",
            "ko": "{count:,}줄은 배치가 취소되어 실행되지 않았습니다. 같은 명령을 다시 실행하면 다시 제출합니다.",
        },
        "batch.note.missing": {
            "en": "{count:,} lines have no result in their batch's files; rerun the same command to submit them again.",
            "ko": "{count:,}줄은 배치 결과 파일에 결과가 없습니다. 같은 명령을 다시 실행하면 다시 제출합니다.",
        },
        "batch.note.validation": {
            "en": "Batch {batch_id} (part {index}) failed validation: {message} "
            "Lines it named got error records; rerun the same command to submit its other lines again.",
            "ko": "배치 {batch_id} (파트 {index})가 검증에 실패했습니다: {message} "
            "지적된 줄에는 오류 기록을 남겼습니다. 같은 명령을 다시 실행하면 나머지 줄을 다시 제출합니다.",
        },
        "batch.note.token_limit_part": {
            "en": "Part {index} holds about {tokens:,} prompt tokens, more than the enqueued token limit of {limit:,}. "
            "Rerun with --max-prompt-tokens-per-file below that limit.",
            "ko": "파트 {index}의 프롬프트 토큰은 약 {tokens:,}개로, 대기열 토큰 한도 {limit:,}개보다 많습니다. "
            "--max-prompt-tokens-per-file 을 한도보다 작게 지정해 다시 실행하세요.",
        },
        "batch.note.token_limit_wait": {
            "en": "Part {index} was rejected by the enqueued token limit {count} times in this run. "
            "Rerun the same command later, when other batches have finished.",
            "ko": "파트 {index}가 이번 실행에서 대기열 토큰 한도에 {count}번 막혔습니다. "
            "다른 배치가 끝난 뒤 같은 명령을 다시 실행하세요.",
        },
        "batch.note.lost": {
            "en": "The server does not know batch {batch_id} (part {index}); its lines will be submitted again.",
            "ko": "서버가 배치 {batch_id} (파트 {index})를 알지 못합니다. 그 줄들은 다시 제출합니다.",
        },
        "batch.stop.max_wait": {
            "en": "Stopped waiting after {seconds:.0f} s with {running:,} batches still running. "
            "Rerun the same command to keep polling them; nothing is submitted twice.",
            "ko": "{seconds:.0f}초 동안 기다린 뒤 멈췄습니다. 아직 실행 중인 배치가 {running:,}개 있습니다. "
            "같은 명령을 다시 실행하면 이어서 확인하며, 같은 요청을 두 번 제출하지 않습니다.",
        },
        "batch.stop.no_wait": {
            "en": "Submitted without waiting; {running:,} batches are running. Rerun the same command to collect the results.",
            "ko": "기다리지 않고 제출만 했습니다. 실행 중인 배치가 {running:,}개 있습니다. "
            "같은 명령을 다시 실행하면 결과를 모읍니다.",
        },
        "batch.stop.cancelled": {
            "en": "Cancel requested for {count:,} batches; lines they did not run stay unanswered.",
            "ko": "배치 {count:,}개에 취소를 요청했습니다. 실행되지 않은 줄은 미처리로 남습니다.",
        },
        "batch.stop.interrupted": {
            "en": "Interrupted; the batches keep running on the server. Rerun the same command to resume polling.",
            "ko": "중단되었습니다. 배치는 서버에서 계속 실행됩니다. 같은 명령을 다시 실행하면 이어서 확인합니다.",
        },
        "batch.error.no_key": {
            "en": "OPENAI_API_KEY is not set; export your API key "
            "(for the local mock server any non-empty value works, e.g. sk-mock).",
            "ko": "OPENAI_API_KEY가 설정되지 않았습니다. API 키를 환경 변수로 지정하세요 "
            "(로컬 모의 서버에는 sk-mock 같은 아무 값이나 됩니다).",
        },
        "batch.error.input_missing": {
            "en": "input file {path} not found; pass a JSONL file with one request body per line.",
            "ko": "입력 파일 {path}을(를) 찾을 수 없습니다. 한 줄에 요청 본문 하나씩 담긴 JSONL 파일을 지정하세요.",
        },
        "batch.error.api": {
            "en": "The API call failed for good: {error}. Fix the cause and rerun the same command to resume.",
            "ko": "API 호출이 끝내 실패했습니다: {error}. 원인을 해결한 뒤 같은 명령을 다시 실행하면 이어서 처리합니다.",
        },
    }
)
