# %% [markdown]
# # 09. 배치 API로 큰 작업 처리하기 · Large jobs with the Batch API

# %% [markdown]
# 07번 노트북의 처리기는 요청을 한 건씩 보내면서 분당 요청 수와 분당 토큰 수를 지킵니다.
# 작업이 아주 크고 답이 당장 필요하지 않다면 다른 길이 있습니다: 요청을 파일 하나에 모아 OpenAI의 배치 API(Batch API)에 맡기는 것입니다.
# 이 노트북은 같은 작업을 두 길로 처리하고, 시간과 비용과 쓰는 한도를 나란히 비교합니다.
# 모든 요청은 이 컴퓨터 안의 모의 서버(mock server)로 갑니다.

# %% [markdown]
# The processor of notebook 07 sends requests one by one and keeps to the requests-per-minute and tokens-per-minute limits.
# When a job is very large and its answers are not needed right away, there is another path: collect the requests in one file and hand it to OpenAI's Batch API.
# This notebook runs the same job both ways and compares the time, the cost and the limits each path uses.
# Every request goes to the mock server on this computer.

# %% [markdown]
# 배치 API는 세 단계로 움직입니다.
# 먼저 요청 파일을 올리고(`client.files.create`), 그 파일로 배치를 만든 뒤(`client.batches.create`), 배치가 끝날 때까지 상태를 확인합니다(`client.batches.retrieve`).
# 배치는 24시간 안에 끝나기로 약속되며, 끝나면 결과 파일과 오류 파일을 내려받습니다.
# 배치 요청은 분당 요청 수와 분당 토큰 수를 쓰지 않고, 모델마다 따로 정해진 대기열 토큰 한도(enqueued token limit)만 씁니다.

# %% [markdown]
# The Batch API works in three steps.
# First you upload a file of requests (`client.files.create`), then create a batch from it (`client.batches.create`), then check its status until it ends (`client.batches.retrieve`).
# A batch is promised to finish within 24 hours, and when it does you download its output file and error file.
# Batch requests use neither the requests-per-minute nor the tokens-per-minute limit, only a separate per-model enqueued token limit.

# %% [markdown]
# 준비 셀은 분당 요청 수 1,200, 분당 토큰 수 200,000, 버스트(burst) 1초인 모의 서버를 시작합니다.
# 실제 배치는 몇 분에서 몇 시간이 걸리지만, 모의 서버는 그 시간을 몇 초로 줄입니다: 검증 1초, 요청마다 0.02초, 마무리 0.5초.
# 결과 파일은 임시 폴더에 씁니다.

# %% [markdown]
# The set-up cell starts a mock server at 1,200 requests per minute, 200,000 tokens per minute and a burst of 1 second.
# A real batch takes minutes to hours, but the mock server compresses that into seconds: 1 second of validation, 0.02 seconds per request, and 0.5 seconds of finalizing.
# Result files go to a temporary folder.

# %%
import json
import tempfile
from pathlib import Path

from ratelimit_toolkit import batch_api, lesson, plots, processor
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.processor.samples import write_sample_requests

RPM, TPM = 1_200, 200_000
# seed=3 makes the batch failures injected in section 6 the same on every run.
session = lesson.start(rpm=RPM, tpm=TPM, burst_seconds=1.0, seed=3, batch_validating_seconds=1.0,
                       batch_seconds_per_request=0.02, batch_finalizing_seconds=0.5)
client = session.client()
workdir = Path(tempfile.mkdtemp(prefix="ratelimit-09-"))
# Status checks every 0.5 s, growing to 2 s; on the real API keep the defaults (5 s, growing to 60 s).
polling = {"poll_interval_seconds": 0.5, "max_poll_interval_seconds": 2.0}

# %% [markdown]
# ## 1. 요청 파일과 배치 형식 · The request file and the batch format

# %% [markdown]
# 07번 노트북과 같은 형식의 요청 200건을 만듭니다: 한 줄에 요청 본문 하나와, 서버로 보내지 않는 `metadata`가 있습니다.
# 배치 API는 줄마다 다른 형식을 원합니다: `custom_id`, `method`, `url`, 그리고 요청 본문을 담은 `body`.
# `batch_api.convert_file`이 바꾼 첫 세 줄을 보세요.

# %% [markdown]
# We write 200 requests in the format of notebook 07: one request body per line, plus a `metadata` field that is never sent to the server.
# The Batch API wants another format per line: `custom_id`, `method`, `url`, and the request body in `body`.
# Look at the first three lines as `batch_api.convert_file` converted them.

# %%
requests_path = write_sample_requests(workdir / "requests.jsonl", 200, model=session.model, seed=7)
batch_api.convert_file(requests_path, workdir / "batch_input.jsonl")
converted = [json.loads(line) for line in (workdir / "batch_input.jsonl").read_text(encoding="utf-8").splitlines()]
lesson.table([{"custom_id": line["custom_id"], "method": line["method"], "url": line["url"],
               "model": line["body"]["model"], "max_tokens": line["body"]["max_tokens"]} for line in converted[:3]])

# %% [markdown]
# `custom_id`는 입력 줄 번호로 만듭니다(`line-0`, `line-1`, ...).
# 배치의 결과 파일은 입력 순서를 지키지 않으므로, 결과를 입력 줄과 다시 잇는 열쇠가 이 `custom_id`입니다.
# `metadata`는 배치로 보내지 않고 입력 파일에 남겨 두었다가, 결과를 합칠 때 줄 번호로 다시 붙입니다.

# %% [markdown]
# The `custom_id` is made from the input line number (`line-0`, `line-1`, ...).
# A batch's output file does not keep the input order, so this `custom_id` is the key that joins each result back to its input line.
# The `metadata` is not sent with the batch.
# It stays in the input file and is joined back in by line number when the results are merged.

# %% [markdown]
# ## 2. 처리기로 처리하기 · Running the job through the processor

# %% [markdown]
# 먼저 07번 노트북의 처리기로 200건을 보냅니다.
# 이번에는 한도를 직접 알려 주므로 처음부터 한도에 맞춰 보냅니다: 초당 20건입니다.
# 요약의 경과 시간과 분당 요청 수를 보세요.

# %% [markdown]
# First we send the 200 requests with the processor of notebook 07.
# This time we pass the limits, so it sends at the limit from the start: 20 requests per second.
# Look at the elapsed time and the requests per minute in the summary.

# %%
process_path = workdir / "process.jsonl"
process_recorder = Recorder()
process_summary = await processor.process_file(
    requests_path, process_path, f"{session.base_url}/chat/completions",
    api_key=None if session.real else lesson.MOCK_API_KEY, requests_per_minute=RPM, tokens_per_minute=TPM,
    recorder=process_recorder,
)
print(process_summary.format("ko"))
print(process_summary.format("en"))

# %% [markdown]
# 200건이 모두 성공했고, 시간은 거의 전부 분당 요청 수 한도를 기다리는 데 들었습니다.
# 요청이 10배면 시간도 10배입니다: 처리기의 처리량(throughput)은 속도 제한(rate limit)이 정합니다.

# %% [markdown]
# All 200 requests succeeded, and nearly all of the time went into waiting for the requests-per-minute limit.
# Ten times the requests would take ten times as long: the rate limit sets the processor's throughput.

# %% [markdown]
# ## 3. 배치 API로 처리하기 · Running the job through the Batch API

# %% [markdown]
# 같은 입력 파일을 `batch_api.run_batch_job`에 넘깁니다.
# 이 함수는 파일을 배치 형식으로 바꾸고, 올리고, 배치를 만들고, 진행 막대를 보여 주며 상태를 확인하고, 끝나면 결과를 처리기와 같은 형식으로 합칩니다.
# 상태 확인 간격은 공유 재시도 정책(`RetryPolicy`)의 지수 백오프(exponential backoff)를 따릅니다: 변화가 없으면 간격이 1.5배씩 늘고, 변화가 있으면 처음 간격으로 돌아갑니다.
# 진행 막대는 끝난 요청 수를 셉니다.

# %% [markdown]
# We hand the same input file to `batch_api.run_batch_job`.
# It converts the file to the batch format, uploads it, creates the batch, checks its status behind a progress bar, and when the batch ends merges the results in the processor's format.
# The wait between status checks follows the exponential backoff of the shared retry policy (`RetryPolicy`): it grows 1.5 times while nothing changes and returns to the first interval after any change.
# The progress bar counts the requests done.

# %%
batch_path = workdir / "batch.jsonl"
batch_summary = batch_api.run_batch_job(requests_path, batch_path, client=client, **polling)
print(batch_summary.format("ko"))
print(batch_summary.format("en"))

# %% [markdown]
# 배치 하나가 200건을 모두 처리했습니다.
# 아래 표는 작업이 본 상태 변화를 시간순으로 보여 줍니다.

# %% [markdown]
# One batch ran all 200 requests.
# The table below lists the status changes the job saw, in order.

# %%
lesson.table(batch_api.events_table(batch_summary))

# %% [markdown]
# 배치는 `validating`(파일 검증), `in_progress`(요청 실행), `finalizing`(결과 파일 작성)을 거쳐 `completed`가 됩니다.
# 실패하면 `failed`, 24시간 안에 못 끝내면 `expired`, 취소하면 `cancelling`을 거쳐 `cancelled`가 됩니다.
# 모의 서버에서는 몇 초지만, 실제 배치 API에서는 이 표의 시간 단위가 분이나 시간입니다.

# %% [markdown]
# A batch goes through `validating` (checking the file), `in_progress` (running the requests) and `finalizing` (writing the result files) to `completed`.
# It ends `failed` when validation fails, `expired` when it cannot finish within 24 hours, and `cancelled`, through `cancelling`, when you cancel it.
# On the mock server this takes seconds, but on the real Batch API the times in this table are minutes or hours.

# %% [markdown]
# ## 4. 두 결과 비교하기 · Comparing the two outputs

# %% [markdown]
# 두 길이 같은 결과를 냈는지 줄마다 비교합니다.
# 비교하는 것은 줄 번호, `metadata`, 성공 여부, 그리고 답변 텍스트입니다; 응답 id와 시각은 원래 다릅니다.

# %% [markdown]
# We compare the two outputs line by line.
# The comparison covers the line number, the `metadata`, success or failure, and the answer text; response ids and timestamps always differ.

# %%
comparison = batch_api.compare_results(process_path, batch_path)
print(f"compared {comparison.compared}, equal {comparison.equal}, mismatches {len(comparison.mismatches)}")

# %% [markdown]
# 200줄이 모두 같습니다.
# 결과 파일의 형식이 같으므로, 결과를 읽는 코드(`processor.read_results`)는 어느 길로 처리했는지 몰라도 됩니다.

# %% [markdown]
# All 200 lines are equal.
# Both output files have the same format, so code that reads the results (`processor.read_results`) need not know which path produced them.

# %% [markdown]
# 이제 시간, 비용, 쓰는 한도를 나란히 봅니다.
# 비용은 예시 가격으로 계산한 추정치입니다: gpt-4o-mini가 출시된 2024년 7월 18일의 정가(입력 토큰 100만 개당 0.15달러, 출력 토큰 100만 개당 0.60달러)이고, 배치 API는 그 50%입니다.
# 가격은 바뀌므로 실제 작업 전에는 OpenAI 가격 페이지에서 지금 가격을 확인하세요.

# %% [markdown]
# Now the time, the cost and the limits used, side by side.
# The cost is an estimate at example prices: gpt-4o-mini's list prices at its launch on 18 July 2024 ($0.15 per million input tokens, $0.60 per million output tokens), with the Batch API at 50% of them.
# Prices change, so check today's prices on OpenAI's pricing page before a real job.

# %%
lesson.table(batch_api.paths_table(
    process_summary, process_path, batch_summary, batch_path,
    enqueued_token_limit=None if session.real else session.settings.batch_enqueued_token_limit,
))

# %% [markdown]
# 토큰 수는 같고, 배치 API의 비용은 절반입니다.
# 처리기는 분당 요청 수 한도를 모두 썼지만, 배치는 분당 요청 수와 분당 토큰 수를 전혀 쓰지 않았습니다: 배치가 도는 동안 처리기로 다른 작업을 돌릴 수 있습니다.
# 배치가 쓴 것은 대기열 토큰 한도의 일부뿐이고, 그 몫은 배치가 끝나면 돌려받습니다.
# 이 모의 서버에서는 배치가 더 빨랐지만, 실제로는 배치가 훨씬 느릴 수 있습니다: 배치 API가 약속하는 것은 24시간 안에 끝난다는 것뿐입니다.

# %% [markdown]
# The token counts are the same, and the Batch API costs half.
# The processor used the whole requests-per-minute limit, while the batch used none of the requests-per-minute or tokens-per-minute limits: while the batch runs, the processor can run another job.
# The batch used only part of the enqueued token limit, which it gives back when it ends.
# On this mock server the batch was faster, but a real batch can be much slower: the Batch API only promises to finish within 24 hours.

# %% [markdown]
# 두 길에서 요청이 끝나는 모양을 그래프로 봅니다.
# 처리기의 선은 분당 요청 수 한도를 따라 꾸준히 오릅니다.
# 배치의 선은 서버가 보고한 완료 수(`request_counts.completed`)를 상태를 확인할 때마다 찍은 것이고, 결과 파일은 배치가 `completed`가 된 뒤에야 받을 수 있습니다.

# %% [markdown]
# The plot shows how requests finish on the two paths.
# The processor's line climbs steadily along the requests-per-minute limit.
# The batch's line is the completed count the server reported (`request_counts.completed`) at each status check, and its output file can be downloaded only once the batch is `completed`.

# %%
ax = plots.plot_throughput(process_recorder, limit_per_minute=RPM, label="process")
batch_points = [(0.0, 0)] + [(event.seconds, event.completed) for event in batch_summary.events]
plots.plot_throughput(batch_points, label="Batch API", ax=ax);

# %% [markdown]
# 처리기는 결과를 한 줄씩 바로 쓰므로, 중간에 멈춰도 그때까지의 답을 쓸 수 있습니다.
# 배치는 다 끝날 때까지 결과를 하나도 주지 않지만, 속도 제한(rate limit)을 쓰지 않습니다.
# 답이 곧 필요하면 처리기를, 하루 안에만 끝나면 되는 큰 작업이면 배치 API를 고르세요.

# %% [markdown]
# The processor writes each result as soon as it arrives, so the answers so far are usable even if the job stops midway.
# The batch gives no result until it is finished, but it uses none of the rate limits.
# Choose the processor when you need answers soon, and the Batch API for a large job that only has to finish within a day.

# %% [markdown]
# ## 5. 실패한 요청 · Failed requests

# %% [markdown]
# 배치 안의 요청도 실패할 수 있고, 실패한 요청은 결과 파일이 아니라 오류 파일로 갑니다.
# 모의 서버가 요청의 5%를 일부러 500 오류로 실패시키게 하고 다시 돌립니다.
# 합친 결과에서 실패한 줄이 어떻게 기록되는지 보세요.

# %% [markdown]
# Requests inside a batch can fail too, and a failed request goes to the error file instead of the output file.
# We make the mock server fail 5% of the requests with a 500 error on purpose, and run the job again.
# Look at how the failed lines are recorded in the merged output.

# %%
session.configure(batch_failure_rate=0.05)
failures_path = workdir / "with_failures.jsonl"
with_failures = batch_api.run_batch_job(requests_path, failures_path, client=client, progress=False, **polling)
session.configure(batch_failure_rate=0.0)
failed_records = [record for record in processor.read_results(failures_path) if "error" in record]
lesson.table([{"line": record["line"], "request_id": record["metadata"]["request_id"], "status": record["error"]["status"],
               "kind": record["error"]["kind"], "attempts": record["attempts"]} for record in failed_records])

# %% [markdown]
# 실패한 줄은 처리기가 쓰는 것과 같은 오류 기록을 받습니다: 상태 코드, 오류 종류, 시도 횟수.
# 배치 API는 실패한 요청을 재시도(retry)하지 않습니다.
# 처리기였다면 500 오류를 재시도했을 것입니다.
# 배치에서 이 줄들을 다시 보내려면 기록을 지우고 다시 실행하거나, 이 줄들만 처리기로 보내세요.

# %% [markdown]
# The failed lines get the same error records the processor writes: the status code, the kind of error, and the number of attempts.
# The Batch API does not retry failed requests.
# The processor would have retried the 500 errors.
# With a batch, send these lines again by deleting their records and rerunning, or by sending just these lines through the processor.

# %% [markdown]
# ## 6. 만료, 중단, 이어서 처리 · Expiry, interruption and resuming

# %% [markdown]
# 배치가 완료 기한 안에 끝나지 못하면 `expired`가 되고, 그때까지 끝난 요청의 결과만 돌려줍니다.
# 모의 서버가 요청 150건을 처리한 뒤 배치를 만료시키게 하고, 요약의 미처리 줄과 안내를 보세요.

# %% [markdown]
# A batch that cannot finish within its completion window becomes `expired`, and returns results only for the requests that finished by then.
# We make the mock server expire the batch after 150 requests; look at the unanswered lines and the note in the summary.

# %%
session.configure(batch_expire_after_requests=150)
expired_path = workdir / "expired.jsonl"
expired = batch_api.run_batch_job(requests_path, expired_path, client=client, progress=False, **polling)
session.configure(batch_expire_after_requests=None)
print(expired.format("ko"))
print(expired.format("en"))

# %% [markdown]
# 150줄은 답을 받았고, 50줄은 기록 없이 남았습니다.
# 같은 출력 파일로 다시 실행하면, 기록이 없는 줄만 새 배치로 보냅니다.

# %% [markdown]
# 150 lines got answers, and 50 lines were left without a record.
# Rerunning with the same output file sends only the lines without a record, in a new batch.

# %%
rerun = batch_api.run_batch_job(requests_path, expired_path, client=client, progress=False, **polling)
print(f"answered before {rerun.answered_before}, answered now {rerun.succeeded}, unanswered {rerun.unanswered}")

# %% [markdown]
# 다시 실행한 작업은 남은 50줄만 보냈고, 이제 200줄이 모두 답을 가졌습니다.

# %% [markdown]
# The rerun sent only the remaining 50 lines, and now all 200 lines have an answer.

# %% [markdown]
# 실제 배치는 몇 시간이 걸리므로, 그동안 노트북이나 터미널이 꺼질 수 있습니다.
# 작업은 배치 id를 출력 파일 옆의 상태 파일(`<출력>.batches.json`)에 적어 두므로, 다시 실행하면 새로 제출하지 않고 같은 배치를 이어서 확인합니다(이어서 처리, resume).
# 여기서는 `max_wait_seconds=2`로 2초만 기다리고 멈춘 뒤 상태 파일을 봅니다.

# %% [markdown]
# A real batch takes hours, and the notebook or the terminal may close in the meantime.
# The job writes its batch ids to a state file next to the output (`<output>.batches.json`), so a rerun checks the same batch again instead of submitting a new one (resume).
# Here `max_wait_seconds=2` makes the job stop after waiting 2 seconds; then we look at the state file.

# %%
resumed_path = workdir / "resumed.jsonl"
stopped = batch_api.run_batch_job(requests_path, resumed_path, client=client, progress=False, max_wait_seconds=2,
                                  **polling)
state = json.loads(batch_api.state_path_for(resumed_path).read_text(encoding="utf-8"))
print(f"stop reason: {stopped.stop_reason}; batches still running: {stopped.running}")
lesson.table([{name: part[name] for name in ("index", "requests", "batch_id", "status")} for part in state["parts"]])

# %% [markdown]
# 배치는 서버에서 계속 돌고, 상태 파일에는 배치 id와 마지막으로 본 상태가 남았습니다.
# 상태 파일에는 API 키도 요청 내용도 없습니다.
# 같은 명령을 다시 실행합니다.

# %% [markdown]
# The batch keeps running on the server, and the state file keeps its id and the last status seen.
# The state file contains neither the API key nor any request text.
# We run the same command again.

# %%
resumed = batch_api.run_batch_job(requests_path, resumed_path, client=client, progress=False, **polling)
print(f"new batches: {resumed.batches_created}; same batch: {resumed.batch_ids == stopped.batch_ids}; "
      f"unanswered: {resumed.unanswered}")

# %% [markdown]
# 새 배치는 만들지 않았고, 같은 배치의 결과로 200줄을 모두 채웠습니다.
# 같은 요청을 두 번 제출하면 비용도 두 번 들기 때문에, 실행 중인 배치가 있는 동안 상태 파일을 지우면 안 됩니다.

# %% [markdown]
# No new batch was created, and the results of the same batch filled all 200 lines.
# Submitting the same requests twice costs twice, so never delete the state file while a batch is running.

# %% [markdown]
# ## 7. 언제 무엇을 쓸까 · When to choose which

# %% [markdown]
# | 상황 | 처리기 (`process`) | 배치 API (`batch`) |
# |---|---|---|
# | 답이 필요한 때 | 몇 초에서 몇 분 안에 | 24시간 안이면 충분할 때 |
# | 작업 크기 | 작거나 중간 | 크다 (파일 하나에 최대 50,000건, 200 MB, 더 크면 나눠서) |
# | 비용 | 정가 | 정가의 50% (가격 페이지에서 확인) |
# | 쓰는 한도 | 분당 요청 수와 분당 토큰 수 | 모델별 대기열 토큰 한도 |
# | 실패한 요청 | 자동으로 재시도 | 오류 파일로 가고 재시도하지 않음 |
# | 진행 상황 | 줄마다 바로 기록 | 배치가 끝나야 결과를 받음 |

# %% [markdown]
# | Situation | The processor (`process`) | The Batch API (`batch`) |
# |---|---|---|
# | When you need the answers | within seconds to minutes | when within 24 hours is fine |
# | Job size | small or medium | large (up to 50,000 requests and 200 MB per file; split larger jobs) |
# | Cost | list price | 50% of list price (check the pricing page) |
# | Limits it uses | requests and tokens per minute | the per-model enqueued token limit |
# | Failed requests | retried automatically | go to the error file, not retried |
# | Progress | each line recorded as it finishes | results arrive when the batch ends |

# %% [markdown]
# 두 길은 같은 입력과 같은 출력 형식을 쓰므로 섞어 쓸 수 있습니다.
# 예를 들어 급한 줄은 처리기로 먼저 처리하고, 같은 출력 파일로 `batch`를 실행하면 나머지 줄만 배치로 보냅니다.

# %% [markdown]
# Both paths use the same input and the same output format, so you can mix them.
# For example, process the urgent lines with the processor first, then run `batch` on the same output file, and only the remaining lines go into batches.

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 배치 API는 06번 노트북의 배치 처리(batching, 요청 하나에 프롬프트 여러 개)와 다릅니다.
#   배치 API는 요청 여러 개를 파일 하나로 맡기는 별도의 API입니다.
# - 결과 파일은 입력 순서를 지키지 않습니다. 결과는 언제나 `custom_id`로 입력과 다시 이으세요.
# - 배치 파일 하나에는 모델 하나만 넣을 수 있습니다. `batch_api`는 모델마다 파일을 나눕니다.
# - 대기열 토큰 한도는 모델별로, 끝나지 않은 배치의 프롬프트 토큰을 셉니다.
#   큰 작업이 이 한도에 걸리면 `--max-prompt-tokens-per-file`로 파일을 작게 나누고 `--max-enqueued-tokens`로 한 번에 제출하는 양을 줄이세요.
# - 실행 중인 배치가 있는 동안 `<출력>.batches.json`을 지우지 마세요. 다시 실행하면 같은 요청을 다시 제출해 비용이 두 번 듭니다.
# - `run_batch_job`은 배치가 끝날 때까지 셀을 붙잡아 둡니다. 실제 API에서는 `wait=False`(명령줄에서는 `--no-wait`)로 제출만 하고, 나중에 같은 호출로 결과를 모으세요.
# - 올린 입력 파일은 지우지 않습니다. OpenAI는 `batch` 용도의 파일을 기본으로 30일 뒤에 지웁니다(openai-python의 `files.create` 설명).
# - 모의 서버는 배치의 시간을 몇 초로 줄입니다. 실제 배치의 시간은 이 노트북의 숫자와 다릅니다.

# %% [markdown]
# - The Batch API is not the batching of notebook 06 (several prompts in one request).
#   It is a separate API that takes many requests as one file.
# - The output file does not keep the input order. Always join results to their inputs by `custom_id`.
# - One batch file may hold only one model. `batch_api` splits files by model.
# - The enqueued token limit counts, per model, the prompt tokens of unfinished batches.
#   When a large job runs into it, split into smaller files with `--max-prompt-tokens-per-file` and submit less at once with `--max-enqueued-tokens`.
# - Never delete `<output>.batches.json` while a batch is running. A rerun would submit the same requests again and you would pay twice.
# - `run_batch_job` blocks the cell until the batches end. On the real API, submit with `wait=False` (`--no-wait` on the command line) and collect the results later with the same call.
# - Uploaded input files are not deleted. By default OpenAI deletes files with purpose `batch` after 30 days (the openai-python `files.create` docstring).
# - The mock server compresses a batch's time into seconds. Real batches take other times than the numbers in this notebook.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - OpenAI 배치 API 안내서: 파일 형식, 상태, 한도 <https://developers.openai.com/api/docs/guides/batch>
# - OpenAI 가격 페이지: 지금의 모델 가격과 배치 할인 <https://openai.com/api/pricing/>
# - 내 계정의 대기열 토큰 한도 <https://platform.openai.com/settings/organization/limits>
# - 터미널에서 쓰기: `ratelimit-toolkit batch --help`
# - 2,000줄 작업을 두 길로 처리해 비교하는 스크립트: `benchmarks/batch_vs_process.py`

# %% [markdown]
# - OpenAI's Batch API guide: the file format, statuses and limits <https://developers.openai.com/api/docs/guides/batch>
# - OpenAI's pricing page: today's model prices and the batch discount <https://openai.com/api/pricing/>
# - Your account's enqueued token limits <https://platform.openai.com/settings/organization/limits>
# - From a terminal: `ratelimit-toolkit batch --help`
# - A script that runs a 2,000-line job both ways and compares them: `benchmarks/batch_vs_process.py`
