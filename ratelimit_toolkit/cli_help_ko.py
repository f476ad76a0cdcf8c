"""Korean text for `ratelimit-toolkit --help`, applied by `ratelimit_toolkit.cli_help`.

The English help stays next to each `add_argument` call, so this table is a
plain dict keyed by where a text sits instead of a `messages` key. A key is
`(command, key)`. `command` is "" for the top level, else the subcommand
name. `key` is an action's `dest`, "description" or "epilog". A subcommand's
line in the top-level command list uses the subcommand name. Text without an
entry here stays English. Each entry keeps the option names, numbers and
units of the English help it replaces.
"""

from __future__ import annotations

from ratelimit_toolkit.mock.batches.limits import COMPLETION_WINDOW, MAX_FILE_BYTES, MAX_REQUESTS_PER_FILE
from ratelimit_toolkit.mock.scope_settings import DEFAULT_MAX_SCOPES
from ratelimit_toolkit.processor.api import DEFAULT_CONCURRENCY, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT_SECONDS

#: Replaces argparse's "usage: " prefix.
USAGE_PREFIX = "사용법: "

#: argparse's own help texts, keyed by their English text.
ARGPARSE_TEXTS: dict[str, str] = {
    "show this help message and exit": "이 도움말을 보여 주고 끝냅니다",
}

#: Argument group headings, keyed by their English title, for every parser.
GROUP_TITLES: dict[str, str] = {
    "positional arguments": "위치 인수",
    "options": "옵션",
    "address and limits": "주소와 속도 제한",
    "errors and faults": "오류와 장애 주입",
    "answers": "응답 내용",
    "splitting": "파일 나누기",
    "waiting": "기다리기",
}

_TOP_LEVEL: dict[tuple[str, str], str] = {
    ("", "description"): "OpenAI API의 속도 제한에 대처하는 도구입니다. 모의 서버와 대량 요청 작업용 도구가 들어 있습니다.",
    ("", "log_level"): "stderr로 내보내는 로그 메시지의 수준 (기본값: INFO)",
    ("", "lang"): (
        "도움말과 메시지의 언어 (기본값: RATELIMIT_TOOLKIT_LANG, 없으면 LC_ALL, LC_MESSAGES, LANG의 "
        "로캘, 그것도 없으면 영어)"
    ),
    ("", "serve"): "OpenAI 호환 모의 서버를 Ctrl-C를 누를 때까지 실행합니다",
    ("", "process"): "JSONL 파일의 요청을 모두 API 엔드포인트로 보냅니다. 속도 조절, 재시도, 이어서 처리를 지원합니다",
    ("", "batch"): "JSONL 파일의 요청을 배치 API로 실행하고 결과를 `process`와 같은 형식으로 합칩니다",
}

_SERVE_LIMITS: dict[tuple[str, str], str] = {
    ("serve", "description"): (
        "속도 제한이 있는 OpenAI 호환 모의 서버를 포그라운드에서 실행합니다. "
        "기본 URL (http://HOST:PORT/v1)을 출력하고, Ctrl-C나 SIGTERM을 받을 때까지 요청을 처리합니다."
    ),
    ("serve", "host"): (
        "서버가 바인드할 주소. 127.0.0.1이면 이 컴퓨터에서만 접속할 수 있습니다. 0.0.0.0이나 이 컴퓨터의 "
        "LAN 주소를 주면 강의실처럼 같은 네트워크의 다른 사람도 접속할 수 있고, 경고를 출력합니다 "
        "(기본값: 127.0.0.1)"
    ),
    ("serve", "port"): "바인드할 TCP 포트. 0이면 비어 있는 포트를 고릅니다 (기본값: 8000)",
    ("serve", "rpm"): "허용하는 분당 요청 수 (기본값: 60)",
    ("serve", "tpm"): "허용하는 분당 토큰 수 (기본값: 150000)",
    ("serve", "burst_seconds"): (
        "한 번에 몰아 쓸 수 있는 예산의 길이(초), 최대 60. 60이면 1분 치 예산 전체를 한 번의 버스트로 "
        "쓸 수 있고, 1이면 분당 한도를 초 단위로 나누어 적용합니다 (기본값: 60)"
    ),
    ("serve", "charge_refused"): "OpenAI처럼, 속도 제한으로 거절한 429 응답도 RPM 한도에서 요청 하나로 셉니다",
    ("serve", "retry_after"): "속도 제한 429 응답에 retry-after(초)와 retry-after-ms 헤더를 붙여 보냅니다",
    ("serve", "limit_scope"): (
        "RPM과 TPM 토큰 버킷 한 쌍을 누가 함께 쓰는지 정합니다. server = 모든 요청이 함께 씁니다. "
        "key = API 키마다 따로 씁니다. organization = 조직마다 따로 두고 그 조직의 키들이 함께 씁니다 "
        "(기본값: server)"
    ),
    ("serve", "organizations"): (
        '조직 ID와 그 조직의 API 키를 잇는 JSON 파일. 예: {"org-a": ["sk-a1", "sk-a2"]}. '
        '항목을 {"keys": [...], "rpm": N, "tpm": N} 형태로 쓰면 그 조직에 따로 분당 요청 수와 분당 토큰 수를 '
        "줍니다. 파일에 없는 키는 OpenAI-Organization 헤더의 조직에 속하고, 헤더가 없으면 --organization의 "
        "조직에 속합니다"
    ),
    ("serve", "max_scopes"): (
        "서버가 버킷을 유지하는 키 또는 조직의 최대 개수. 이를 넘으면 가장 오래 쓰이지 않은 것을 지우고, "
        f"그 키나 조직은 가득 찬 버킷으로 다시 시작합니다 (기본값: {DEFAULT_MAX_SCOPES})"
    ),
}

_SERVE_FAULTS: dict[tuple[str, str], str] = {
    ("serve", "quota_exhausted"): "모든 요청에 429 insufficient_quota(할당량 부족)로 응답합니다",
    ("serve", "failure_rate"): "HTML 500, 502, 503 오류로 응답할 확률, 0에서 1 사이 (기본값: 0)",
    ("serve", "failure_statuses"): "주입한 장애가 쓰는 HTTP 상태 코드, 쉼표로 구분 (기본값: 500,502,503)",
    ("serve", "slow_rate"): "느린 응답을 보낼 확률, 0에서 1 사이 (기본값: 0)",
    ("serve", "slow_seconds"): "느린 응답에 더하는 지연 시간(초) (기본값: 5)",
    ("serve", "drop_rate"): "응답 없이 연결을 끊을 확률, 0에서 1 사이 (기본값: 0)",
    ("serve", "seed"): "무작위 장애의 시드. 같은 실행을 되풀이할 때 씁니다 (기본값: 무작위)",
    ("serve", "api_keys"): (
        "이 API 키만 받습니다. 여러 개는 옵션을 되풀이해서 줍니다 (기본값: 비어 있지 않은 키는 모두 받음). "
        "이 컴퓨터의 다른 사용자도 명령줄 인수를 볼 수 있습니다."
    ),
}

_SERVE_ANSWERS: dict[tuple[str, str], str] = {
    ("serve", "latency"): (
        "성공 응답마다 보내기 전에 기다리는 지연 시간(초) (기본값: 0. 0.02면 빠른 호스팅 모델과 비슷합니다)"
    ),
    ("serve", "per_token_latency"): "생성한 토큰 하나마다 더하는 지연 시간(초) (기본값: 0. 예: 0.0005)",
    ("serve", "language"): "생성하는 텍스트의 언어. auto는 프롬프트에 한글이 있으면 한국어를 씁니다 (기본값: auto)",
    ("serve", "no_shuffle"): "completions 응답의 choices를 섞지 않고 index 순서대로 돌려줍니다",
    ("serve", "organization"): "헤더와 메시지에 쓰는 조직 ID (기본값: org-mock)",
}

_PROCESS: dict[tuple[str, str], str] = {
    ("process", "description"): (
        "INPUT.jsonl의 한 줄마다 요청 하나를 --url로 보내고, 줄마다 JSON 기록 하나를 --output에 덧붙입니다. "
        "같은 --output으로 다시 실행하면 이미 기록이 있는 줄은 건너뛰고 이어서 처리합니다. "
        "API 키는 OPENAI_API_KEY에서 읽습니다. 종료 상태: 모든 줄에 응답이나 기록된 오류가 있으면 0, "
        "아직 응답을 받지 못한 줄이 있으면 1, 인수가 잘못되었거나 --redis-url의 Redis를 쓸 수 없으면 2, "
        "Ctrl-C 뒤에는 130."
    ),
    ("process", "input"): "한 줄에 요청 본문 (JSON 객체) 하나",
    ("process", "output"): "기록을 덧붙일 파일. 같은 파일을 다시 주면 이전 실행을 이어서 처리합니다",
    ("process", "url"): (
        "엔드포인트의 전체 URL. 예: https://api.openai.com/v1/chat/completions 또는 ?api-version= 매개변수가 "
        "붙은 Azure 배포 URL"
    ),
    ("process", "rpm"): "분당 요청 수 한도. 기본값: x-ratelimit-* 응답 헤더에서 알아냅니다",
    ("process", "tpm"): "분당 토큰 수 한도. 기본값: x-ratelimit-* 응답 헤더에서 알아냅니다",
    ("process", "burst_seconds"): (
        "한 번에 몰아 쓰는 예산의 길이(초), (0, 60] 범위. 1(기본값)은 서버가 분당 한도를 초 단위로 "
        "나누어 적용한다고 가정합니다"
    ),
    ("process", "redis_url"): (
        "URL의 Redis(redis://[:PASSWORD@]HOST:PORT/DB)를 거쳐, 같은 URL과 같은 --rpm, --tpm, "
        "--burst-seconds를 받은 모든 프로세스와 속도 제한을 함께 씁니다. 기본값: "
        "$RATELIMIT_TOOLKIT_REDIS_URL이 있으면 그 값 (비밀번호가 프로세스 목록에 드러나지 않습니다), "
        "없으면 이 프로세스만 따로 제한합니다. redis 패키지가 필요합니다 "
        "(pip install 'ratelimit-toolkit[redis]')"
    ),
    ("process", "max_attempts"): f"한 줄의 오류를 기록하기 전까지 보내는 HTTP 호출 수 (기본값 {DEFAULT_MAX_ATTEMPTS})",
    ("process", "concurrency"): f"동시 요청 수의 최댓값 (기본값 {DEFAULT_CONCURRENCY})",
    ("process", "timeout"): f"HTTP 호출 한 번의 제한 시간(초) (기본값 {DEFAULT_TIMEOUT_SECONDS:g})",
    ("process", "max_lines"): "이번 실행에서 N줄을 처리한 뒤 멈춥니다 (나머지는 나중에 이어서 처리)",
    ("process", "lang"): "진행 표시줄과 요약의 언어 (기본값: LANG에 따름)",
    ("process", "no_progress"): "진행 표시줄을 보여 주지 않습니다",
}

_BATCH_JOB: dict[tuple[str, str], str] = {
    ("batch", "description"): (
        "INPUT.jsonl(`process`처럼 한 줄에 요청 본문 하나)을 배치 API 파일로 바꿔 올리고, 배치를 만들고, "
        "끝나기를 기다린 뒤, `process`가 쓰는 형식으로 줄마다 기록 하나를 --output에 덧붙입니다. "
        "배치 ID는 RESULTS.jsonl.batches.json에 남으므로, 같은 명령을 다시 실행하면 다시 제출하지 않고 "
        "상태 확인을 이어서 합니다. 서버는 --base-url이나 OPENAI_BASE_URL에서, 키는 OPENAI_API_KEY에서 "
        "가져옵니다. 종료 상태: 모든 줄에 응답이나 기록된 오류가 있으면 0, 아직 응답을 받지 못한 줄이 "
        "있으면 1, 인수가 잘못되었으면 2, API 호출이 끝내 실패했으면 3, Ctrl-C 뒤에는 130."
    ),
    ("batch", "input"): "한 줄에 요청 본문 (JSON 객체) 하나",
    ("batch", "output"): "기록을 덧붙일 파일. 같은 파일을 다시 주면 작업을 이어서 처리합니다",
    ("batch", "base_url"): "API 주소. 예: http://127.0.0.1:8000/v1 (기본값: OPENAI_BASE_URL, 없으면 OpenAI)",
    ("batch", "endpoint"): "모든 요청을 보낼 엔드포인트 (기본값: /v1/chat/completions)",
    ("batch", "completion_window"): (
        f"배치가 끝나기까지 허용하는 시간. OpenAI는 {COMPLETION_WINDOW}(기본값)만 받습니다"
    ),
    ("batch", "custom_id_field"): "각 custom_id를 줄 번호 대신 이 metadata 필드에서 가져옵니다",
    ("batch", "lang"): "요약과 안내 메시지의 언어 (기본값: LANG에 따름)",
}

_BATCH_FILES: dict[tuple[str, str], str] = {
    ("batch", "max_requests_per_file"): (
        f"배치 파일 하나에 넣는 요청 수 (기본값이자 OpenAI의 최댓값: {MAX_REQUESTS_PER_FILE:,})"
    ),
    ("batch", "max_bytes_per_file"): f"배치 파일 하나의 바이트 수 (기본값이자 OpenAI의 최댓값: {MAX_FILE_BYTES:,})",
    ("batch", "max_prompt_tokens_per_file"): (
        "배치 파일 하나에 넣는 프롬프트 토큰 수의 추정치. 계정의 대기열 토큰 한도 (enqueued token limit)"
        "보다 작게 잡으세요 (기본값: 제한 없음)"
    ),
    ("batch", "max_enqueued_tokens"): (
        "실행 중인 배치들의 추정 프롬프트 토큰이 N 이하일 때만 다음 파일을 제출합니다 "
        "(기본값: 모든 파일을 한꺼번에 제출)"
    ),
    ("batch", "poll_interval"): (
        "상태 확인 사이의 첫 대기 시간(초). 상태가 바뀌지 않을 때마다 1.5배씩 늘어납니다 (기본값: 5)"
    ),
    ("batch", "max_poll_interval"): "상태 확인 사이의 최대 대기 시간(초) (기본값: 60)",
    ("batch", "max_wait"): (
        "S초를 기다린 뒤 멈추고, 배치는 다시 실행할 때를 위해 계속 돌게 둡니다 (기본값: 끝날 때까지 기다림)"
    ),
    ("batch", "no_wait"): "제출만 하고 돌아옵니다. 결과는 나중에 다시 실행해서 가져옵니다",
    ("batch", "cancel"): "이 작업의 실행 중인 배치를 취소한 뒤, 끝난 부분을 합칩니다",
    ("batch", "no_progress"): "진행 표시줄을 보여 주지 않습니다",
}

#: Korean help, description and epilog texts keyed by `(command, key)` as the module docstring describes.
HELP_TEXTS: dict[tuple[str, str], str] = {
    **_TOP_LEVEL,
    **_SERVE_LIMITS,
    **_SERVE_FAULTS,
    **_SERVE_ANSWERS,
    **_PROCESS,
    **_BATCH_JOB,
    **_BATCH_FILES,
}
