# %% [markdown]
# # 07. 병렬 요청 처리기 · The parallel request processor

# %% [markdown]
# 요청이 수백, 수만 건이면 한 건씩 보내기에는 너무 느리고, 한꺼번에 보내면 속도 제한(rate limit)에 걸립니다.
# 이 노트북은 `ratelimit_toolkit.processor`로 JSONL 파일의 요청을 동시에 보내면서 한도를 지키고, 실패한 요청은 재시도(retry)하고, 중간에 멈춘 작업을 이어서 처리(재개, resume)하는 방법을 보여 줍니다.
# 모든 요청은 이 컴퓨터 안의 모의 서버(mock server)로 갑니다.

# %% [markdown]
# When you have hundreds or tens of thousands of requests, sending them one at a time is too slow, and sending them all at once runs into the rate limit.
# This notebook uses `ratelimit_toolkit.processor` to send the requests of a JSONL file concurrently while keeping to the limits, retrying failed requests and resuming a job that stopped halfway.
# Every request goes to the mock server on this computer.

# %% [markdown]
# 준비 셀은 분당 요청 수(requests per minute, RPM) 720, 분당 토큰 수(tokens per minute, TPM) 100,000, 버스트(burst) 1초인 모의 서버를 시작합니다.
# 버스트 1초이므로 서버는 초당 12건까지만 받습니다.
# 결과 파일은 임시 폴더에 쓰므로 저장소를 어지럽히지 않습니다.

# %% [markdown]
# The set-up cell starts a mock server at 720 requests per minute (RPM), 100,000 tokens per minute (TPM) and a burst of 1 second.
# With a 1-second burst the server accepts at most 12 requests per second.
# The result files go to a temporary folder, so the repository stays clean.

# %%
import asyncio
import json
import tempfile
from pathlib import Path

from ratelimit_toolkit import lesson, plots, processor
from ratelimit_toolkit.processor.samples import write_sample_requests
from ratelimit_toolkit.recording import Recorder

RPM, TPM = 720, 100_000
session = lesson.start(rpm=RPM, tpm=TPM, burst_seconds=1.0)
workdir = Path(tempfile.mkdtemp(prefix="ratelimit-07-"))
job = {
    "url": f"{session.base_url}/chat/completions",
    # The mock server accepts any key; on the real API the key comes from OPENAI_API_KEY.
    "api_key": None if session.real else lesson.MOCK_API_KEY,
}

# %% [markdown]
# ## 1. 요청 파일 만들기 · Building the request file

# %% [markdown]
# 입력 파일은 한 줄에 요청 본문 하나를 담은 JSONL입니다.
# 아래 셀은 고객 리뷰 요약, 감정 분류, 번역 같은 요청 240건을 한국어와 영어를 섞어 만듭니다.
# 시드(seed)가 고정되어 있어서 실행할 때마다 같은 파일이 나옵니다.
# 각 줄의 `metadata`는 서버로 보내지 않고 결과 줄에 그대로 옮겨지므로, 결과를 원래 데이터와 다시 잇는 데 씁니다.

# %% [markdown]
# The input file is JSONL with one request body per line.
# The cell below writes 240 requests, such as review summaries, sentiment labels and translations, mixing Korean and English.
# The seed is fixed, so every run writes the same file.
# Each line's `metadata` is not sent to the server but copied into the result line, so you can join results back to your own data.

# %%
requests_path = write_sample_requests(workdir / "requests.jsonl", 240, model=session.model, seed=7)
first_line = requests_path.read_text(encoding="utf-8").splitlines()[0]
print(first_line)

# %% [markdown]
# 요청 하나는 `messages`, `max_tokens`, 그리고 `metadata`를 가진 평범한 채팅 요청입니다.

# %% [markdown]
# Each request is a plain chat request with `messages`, `max_tokens` and `metadata`.

# %% [markdown]
# ## 2. 한꺼번에 보내면 생기는 일 · What happens when everything goes at once

# %% [markdown]
# 먼저 흔한 방법을 봅니다: `openai` 비동기 클라이언트를 기본 재시도 설정(2회)으로 두고, 요청 100건을 `asyncio.gather`로 한꺼번에 보냅니다.
# 서버가 초당 12건만 받으므로 대부분 429를 받고, 클라이언트의 짧은 재시도가 끝나면 그 요청은 잃어버립니다.
# 잃은 요청 수와 429 비율을 보세요.

# %% [markdown]
# First, the common approach: the `openai` async client with its default retries (2), and 100 requests sent at once with `asyncio.gather`.
# The server takes only 12 requests per second, so most get a 429, and once the client's short retries run out the request is lost.
# Look at the number of lost requests and the share of 429s.

# %%
lines = requests_path.read_text(encoding="utf-8").splitlines()[:100]
bodies = [{key: value for key, value in json.loads(line).items() if key != "metadata"} for line in lines]
async with session.async_client(max_retries=2) as naive_client:
    calls = [naive_client.chat.completions.create(**body) for body in bodies]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
totals = session.stats()["totals"]
lost = sum(isinstance(outcome, Exception) for outcome in outcomes)
print(f"lost {lost} of {len(bodies)}; 429s {totals['refused_429']['total']} of {totals['requests']} calls")

# %% [markdown]
# 100건 중 상당수를 잃었고, 서버로 간 호출의 대부분이 429로 거절되었습니다.
# 재시도가 몇 번뿐이고 한도를 모른 채 다시 보내기 때문입니다.
# 다음 절의 처리기는 같은 한도에서 한 건도 잃지 않아야 합니다.

# %% [markdown]
# Many of the 100 requests were lost, and most calls that reached the server were refused with a 429.
# The client retries only a few times and resends without knowing the limit.
# The processor in the next section must lose none at the same limit.

# %% [markdown]
# ## 3. 처리기로 보내기 · Sending with the processor

# %% [markdown]
# 모의 서버를 새 버킷으로 다시 시작한 뒤 처리기를 돌립니다.
# 처리기는 파일을 한 줄씩 읽고, 동시성(동시 요청 수, concurrency)을 제한하고, 토큰 버킷(token bucket)으로 요청과 토큰을 스로틀링(throttling)합니다.
# 한도를 알려 주지 않았으므로 처음에는 초당 1건으로 조심스럽게 시작하고, 첫 응답의 `x-ratelimit-*` 응답 헤더(response headers)에서 한도를 읽습니다.
# 작업이 중간에 끊긴 상황을 흉내 내려고 `max_lines=100`으로 100줄만 처리하고 멈춥니다.
# 진행 막대의 분당 요청 수와 429 수를 보세요.

# %% [markdown]
# We restart the mock server with fresh buckets, then run the processor.
# The processor reads the file line by line, bounds the concurrency, and throttles requests and tokens with token buckets.
# No limits are given, so it starts carefully at one request per second and reads the limits from the first response's `x-ratelimit-*` response headers.
# To imitate a job that was cut off, `max_lines=100` makes it stop after 100 lines.
# Watch the requests per minute and the 429 count in the progress bar.

# %%
session.restart()
recorder = Recorder()
results_path = workdir / "results.jsonl"
first = await processor.process_file(requests_path, results_path, **job, max_lines=100, recorder=recorder)
print(first.format("ko"))
print(first.format("en"))

# %% [markdown]
# 100줄을 처리했고 140줄이 남았습니다.
# 종료 코드로 치면 1이므로, 스크립트나 CI는 작업이 끝나지 않았다는 것을 알 수 있습니다.
# 요약의 한도는 응답 헤더에서 읽은 값입니다.

# %% [markdown]
# 100 lines are done and 140 remain.
# As an exit status this is 1, so a script or CI can tell that the job is not finished.
# The limits in the summary are the values read from the response headers.

# %% [markdown]
# ## 4. 이어서 처리 · Resuming

# %% [markdown]
# 같은 결과 파일로 다시 실행하면 이미 답이 있는 줄은 건너뛰고 나머지만 보냅니다.
# 프로세스가 `kill -9`로 죽어서 마지막 줄이 반쯤 쓰였더라도, 그 줄은 버리고 다시 처리합니다.
# 이번에는 서버가 요청의 8%에 HTML 본문의 500, 502, 503 오류를 돌려주도록 설정해서, 재시도가 어떻게 보이는지도 봅니다.

# %% [markdown]
# Running again with the same results file skips the lines that already have an answer and sends only the rest.
# Even if the process was killed with `kill -9` and the last line was half written, that line is dropped and processed again.
# This time the server answers 8% of the requests with a 500, 502 or 503 error and an HTML body, so we also see what retries look like.

# %%
session.configure(failure_rate=0.08, seed=1)
second = await processor.process_file(requests_path, results_path, **job, recorder=recorder)
session.configure(failure_rate=0.0)
print(second.format("ko"))
print(second.format("en"))

# %% [markdown]
# 이번 실행 전에 100줄이 이미 처리되어 있었고, 나머지 140줄이 모두 성공했습니다.
# 서버 오류를 받은 요청은 지수 백오프(exponential backoff)로 잠시 기다렸다가 다시 보냈으므로, 잃은 줄이 없습니다.
# 결과 파일에는 요청이 끝난 순서대로 줄이 쌓이므로, 입력 순서로 읽으려면 `read_results`를 씁니다.
# 아래 표에서 `line`(0부터 센 입력 줄 번호)과 `metadata`가 입력과 맞는지 보세요.

# %% [markdown]
# 100 lines were already done before this run, and the other 140 all succeeded.
# Requests that got a server error waited briefly with exponential backoff and were sent again, so no line was lost.
# The results file collects lines in the order requests finished, so use `read_results` to read them in input order.
# In the table below, check that `line` (the 0-based input line number) and `metadata` match the input.

# %%
records = processor.read_results(results_path)
lesson.table([
    {"line": r["line"], "request_id": r["metadata"]["request_id"], "attempts": r["attempts"],
     "answer": r["response"]["choices"][0]["message"]["content"][:40]}
    for r in records[:5]
])

# %% [markdown]
# 240줄 모두 결과가 한 줄씩 있습니다.

# %% [markdown]
# All 240 lines have exactly one result each.

# %%
print(len(records), "records; lines 0 to", records[-1]["line"])

# %% [markdown]
# ## 5. 처리량과 재시도 · Throughput and retries

# %% [markdown]
# 첫 번째 그래프는 완료된 요청 수를 시간에 따라 누적해서, 한도 720이 허락하는 최대치(점선)와 비교합니다.
# 앞의 100줄과 뒤의 140줄이 한 그래프에 이어서 그려집니다.
# 두 실행 사이의 틈은 1초도 안 되어 거의 보이지 않습니다.

# %% [markdown]
# The first plot accumulates completed requests over time and compares them with the most the limit of 720 allows (dashed line).
# The first 100 lines and the later 140 lines are drawn one after the other.
# The pause between the two runs is under a second, so it barely shows.

# %%
plots.plot_throughput(recorder, limit_per_minute=RPM, label="processor");

# %% [markdown]
# 처리량(throughput)은 첫 응답에서 한도를 배운 뒤 한도선과 같은 기울기로 올라갑니다.
# 서버 오류가 섞인 뒤쪽은 재시도한 호출만큼 조금 완만합니다.

# %% [markdown]
# Once the first response has taught the processor the limit, the throughput climbs with the same slope as the limit line.
# The later part, with server errors mixed in, is slightly flatter by the calls spent on retries.

# %% [markdown]
# 두 번째 그래프는 서버가 본 초당 요청입니다: 초록은 받아들인 요청, 빨강은 429, 주황은 서버 오류입니다.

# %% [markdown]
# The second plot shows the requests per second as the server saw them: green was admitted, red is a 429, orange a server error.

# %%
plots.plot_timeline(session.stats(), limit_per_second=RPM / 60);

# %% [markdown]
# 초당 요청은 한도 12건을 넘지 않고, 429는 없습니다.
# 주황 막대는 재시도 대상이 된 서버 오류입니다.
# 서버가 429나 오류를 보내면 처리기는 그 요청만 기다리게 하고 다른 요청은 계속 보내므로, 작업 전체가 멈추지 않습니다.

# %% [markdown]
# The requests per second never exceed the limit of 12, and there are no 429s.
# The orange bars are the server errors that were retried.
# When the server sends a 429 or an error, the processor makes only that request wait and keeps sending the others, so the job as a whole never freezes.

# %% [markdown]
# 마지막 그래프는 요청마다 재시도를 몇 번 했는지 셉니다.

# %% [markdown]
# The last plot counts how many retries each request needed.

# %%
plots.plot_retries_per_request(recorder);

# %% [markdown]
# 대부분의 요청은 재시도 없이 끝났고, 서버 오류를 받은 몇 건만 재시도했습니다.

# %% [markdown]
# Most requests finished without a retry; only the few that got a server error were retried.

# %% [markdown]
# ## 6. 할당량이 부족하면 바로 멈춘다 · A quota error stops the job at once

# %% [markdown]
# 할당량 부족(`insufficient_quota`)은 기다려도 풀리지 않는 결제 문제입니다.
# 모의 서버를 할당량 부족 모드로 바꾸고 새 파일을 처리하면, 처리기는 몇 초 안에 멈추고 이유를 알려 줍니다.
# 답하지 못한 줄은 비워 두므로, 결제를 해결한 뒤 같은 명령으로 이어서 처리할 수 있습니다.

# %% [markdown]
# An exhausted quota (`insufficient_quota`) is a billing problem that no wait fixes.
# With the mock server switched to quota mode, processing a new file stops within seconds and says why.
# Unanswered lines stay unanswered, so after fixing billing the same command resumes the job.

# %%
session.configure(quota_exhausted=True)
stopped = await processor.process_file(requests_path, workdir / "quota.jsonl", **job, progress=False)
session.configure(quota_exhausted=False)
print(stopped.format("ko"))
print(stopped.format("en"))

# %% [markdown]
# 240줄 모두 답이 없는 채로 남았고, 명령줄에서는 종료 코드 1이 됩니다.

# %% [markdown]
# All 240 lines remain unanswered, and on the command line the exit status is 1.

# %% [markdown]
# ## 7. 터미널에서 쓰기 · From the terminal

# %% [markdown]
# 같은 처리기를 명령줄에서도 쓸 수 있습니다.
# API 키는 `OPENAI_API_KEY` 환경 변수에서 읽고, 결과 파일에는 절대 쓰지 않습니다.
# `--rpm`과 `--tpm`을 빼면 응답 헤더에서 한도를 배웁니다.
#
# ```bash
# export OPENAI_API_KEY=sk-...
# ratelimit-toolkit process requests.jsonl --output results.jsonl \
#     --url https://api.openai.com/v1/chat/completions --rpm 500 --tpm 200000
# ```
#
# Azure OpenAI는 `https://<리소스>.openai.azure.com/openai/deployments/<배포>/chat/completions?api-version=...` 형태의 주소를 주면 `api-key` 헤더로 인증합니다.

# %% [markdown]
# The same processor works from the command line.
# The API key is read from the `OPENAI_API_KEY` environment variable and never written to the results file.
# Leave out `--rpm` and `--tpm` to learn the limits from the response headers.
#
# ```bash
# export OPENAI_API_KEY=sk-...
# ratelimit-toolkit process requests.jsonl --output results.jsonl \
#     --url https://api.openai.com/v1/chat/completions --rpm 500 --tpm 200000
# ```
#
# For Azure OpenAI, give a URL of the form `https://<resource>.openai.azure.com/openai/deployments/<deployment>/chat/completions?api-version=...` and the processor authenticates with an `api-key` header.

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 다시 실행하면 오류로 기록된 줄(예: 재시도를 다 쓴 503)도 건너뜁니다.
#   그런 줄을 다시 보내려면 결과 파일에서 그 줄을 지우고 다시 실행하세요.
# - 같은 결과 파일에 두 프로세스가 동시에 쓰지 못하게 파일을 잠급니다(Linux, macOS).
#   두 번째 실행은 바로 오류를 냅니다.
# - Jupyter 셀에서는 `await processor.process_file(...)`을 쓰세요.
#   `processor.process_file_sync(...)`도 동작하지만, 별도 스레드의 이벤트 루프에서 작업을 돌립니다.
# - 한도를 모르면 첫 응답이 올 때까지 초당 1건으로 시작합니다.
#   `x-ratelimit-*` 헤더를 지우는 프록시 뒤에서는 계속 그 속도이므로, `--rpm`과 `--tpm`을 주세요.
# - 같은 키를 여러 프로세스가 함께 쓰면 각 처리기는 다른 프로세스의 요청을 모릅니다.
#   응답 헤더가 차이를 일부 메워 주지만, 한도를 나눠 주거나 08번 노트북의 Redis 공유 한도를 쓰세요.
# - `metadata` 필드는 서버로 보내지 않으므로, API 자체의 `metadata` 매개변수는 입력 줄로 넘길 수 없습니다.

# %% [markdown]
# - A rerun also skips lines recorded with an error (for example a 503 after all retries).
#   To send such a line again, delete it from the results file and rerun.
# - The results file is locked (on Linux and macOS) so that two processes cannot write it at once.
#   A second run fails at once.
# - In a Jupyter cell, use `await processor.process_file(...)`.
#   `processor.process_file_sync(...)` works too, but runs the job on an event loop in a separate thread.
# - Without known limits the job starts at one request per second until the first response arrives.
#   Behind a proxy that strips the `x-ratelimit-*` headers it stays at that speed, so pass `--rpm` and `--tpm`.
# - When several processes share one key, each processor does not see the others' requests.
#   The response headers close part of the gap, but split the limits or use the Redis-shared limit of notebook 08.
# - The `metadata` field is never sent to the server, so the API's own `metadata` parameter cannot be passed through an input line.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - 결과 줄의 형식과 필드: `ratelimit_toolkit.processor.records` 모듈 설명.
# - 처리기와 다른 방법을 나란히 잰 수치: `benchmarks/processor.py`.
# - 한도와 응답 헤더: OpenAI 문서의 "Rate limits" 안내(platform.openai.com/docs/guides/rate-limits).
# - 아주 큰 작업을 싸게 처리하는 방법: 09번 노트북(배치 API).

# %% [markdown]
# - The shape and fields of the result lines: the docstring of `ratelimit_toolkit.processor.records`.
# - Measured figures for the processor beside other approaches: `benchmarks/processor.py`.
# - Limits and response headers: the "Rate limits" guide in OpenAI's documentation (platform.openai.com/docs/guides/rate-limits).
# - A cheaper way to run very large jobs: notebook 09 (the Batch API).
