# %% [markdown]
# # 03. backoff로 재시도하기 · Retrying with backoff

# %% [markdown]
# 02번 노트북의 재시도 정책을 이번에는 backoff 라이브러리로 구현합니다.
# backoff는 `@backoff.on_exception` 데코레이터 하나로 반복, 최대 시도 횟수, 포기 조건을 처리하며, 일반 함수와 `async` 함수를 모두 감쌉니다.
# 이 노트북은 asyncio 코루틴으로 동시성(동시 요청 수, concurrency)을 만들고, 시간 예산과 이벤트 루프를 막지 않는 대기를 함께 봅니다.

# %% [markdown]
# This notebook builds the retry policy of notebook 02 on the backoff library instead.
# backoff handles the loop, the attempt limit and the give-up condition with a single `@backoff.on_exception` decorator, and it wraps both plain and `async` functions.
# This notebook creates concurrency with asyncio coroutines, and also looks at a time budget and at waiting without blocking the event loop.

# %% [markdown]
# 준비 셀은 02번과 같은 한도(분당 요청 수 120, 버스트 1초)로 모의 서버(mock server)를 시작합니다.
# 이번에는 동기 클라이언트와 함께 `AsyncOpenAI` 클라이언트도 만듭니다.
# 둘 다 `max_retries=0`이라서, 재시도는 backoff 쪽에서만 일어납니다.

# %% [markdown]
# The set-up cell starts the mock server with the limits of notebook 02 (120 requests per minute, a burst of 1 second).
# This time it creates an `AsyncOpenAI` client as well as a synchronous one.
# Both have `max_retries=0`, so retries happen only on the backoff side.

# %%
import asyncio
import logging
import random
import time

import matplotlib.pyplot as plt
import openai

from ratelimit_toolkit import lesson, plots, retry
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry import RetryPolicy

logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
session = lesson.start(rpm=120, tpm=150_000, burst_seconds=1.0)
client = session.client()
async_client = session.async_client()
# Jitter draws from this generator; the seed makes the waits, tables and plots the same on every run.
rng = random.Random(7)
policy = RetryPolicy(initial_wait=0.5, multiplier=2, max_wait=2.0, jitter="full", max_attempts=30)

# %% [markdown]
# ## 1. backoff 데코레이터 · The backoff decorator

# %% [markdown]
# `retry.retry_with_backoff`는 호출마다 `backoff.on_exception`을 다음처럼 채웁니다.
# `giveup` 판단 함수는 `errors.classify`로 재시도할 만한 오류인지 보고, 정책의 대기 시간(서버 힌트 + 지터를 넣은 백오프, 상한 적용)을 계산해, 시간 예산을 넘으면 포기합니다.
# `max_tries`는 정책의 `max_attempts`이고, `on_backoff` 처리기가 그 대기를 기록하고 로그를 남긴 뒤 잠듭니다.
# backoff의 `jitter=`는 대기 전체에 적용되어 서버가 요청한 시간보다 짧게 만들 수 있으므로 끄고, 지터는 정책이 백오프 부분에만 넣습니다.
# 아래 셀은 모의 서버가 다음 두 요청에 HTML 본문의 502를 보내도록 예약하고 한 번 호출합니다.

# %% [markdown]
# `retry.retry_with_backoff` fills in `backoff.on_exception` on every call as follows.
# The `giveup` predicate uses `errors.classify` to decide whether the error is worth retrying, computes the policy's wait (server hint plus jittered backoff, capped), and gives up when the time budget would run out.
# `max_tries` is the policy's `max_attempts`, and the `on_backoff` handler records the wait, logs it and then sleeps.
# backoff's own `jitter=` would apply to the whole wait and could make it shorter than the server asked for, so it stays off and the policy adds jitter to the backoff part only.
# The cell below tells the mock server to answer the next two requests with a 502 and an HTML body, then makes one call.

# %%
recorder = Recorder()
create = retry.retry_with_backoff(policy=policy, recorder=recorder, rng=rng)(client.chat.completions.create)

retry_log = logging.getLogger("ratelimit_toolkit.retry")
retry_log.setLevel(logging.INFO)
session.server.enqueue_responses([502, 502, 200])
reply = create(model=session.model, messages=[{"role": "user", "content": "지수 백오프를 한 문장으로 설명해 주세요."}], max_tokens=40)
retry_log.setLevel(logging.WARNING)
lesson.table([{"attempt": a.number, "outcome": a.outcome, "status": a.status, "wait_s": a.wait_seconds} for a in recorder.attempts()])

# %% [markdown]
# 502는 서버 쪽의 일시적인 오류라서 재시도 대상이고, 세 번째 시도에서 성공했습니다.
# 본문이 JSON이 아니라 HTML이어도 분류기는 상태 코드로 판단하며, 기록에는 두 502가 그대로 남습니다.
# 502에는 서버가 제안한 대기 시간이 없으므로, 대기는 지터를 넣은 백오프 그대로입니다: 0.5초와 1초 아래입니다.

# %% [markdown]
# A 502 is a temporary error on the server side, so it is retried, and the third attempt succeeded.
# The classifier decides by the status code even when the body is HTML rather than JSON, and the record keeps both 502s.
# A 502 carries no suggested wait, so each wait is the jittered backoff alone: under 0.5 and under 1 second.

# %% [markdown]
# ## 2. 코루틴 20개 · Twenty coroutines

# %% [markdown]
# 이번에는 스레드 대신 코루틴 20개를 이벤트 루프 하나에서 동시에 돌립니다.
# 같은 데코레이터가 `async` 함수도 감싸며, 그때는 `asyncio.sleep`으로 기다립니다.
# 아래 셀은 버킷이 다시 찰 때까지 1초 기다린 뒤, 코루틴 20개를 한꺼번에 시작합니다.
# 표에서 포기(`gave_up`)가 0인지 보세요.

# %% [markdown]
# This time 20 coroutines run at once on one event loop instead of threads.
# The same decorator wraps `async` functions too, and then it waits with `asyncio.sleep`.
# The cell below waits 1 second for the bucket to refill, then starts all 20 coroutines at once.
# Check in the table that `gave_up` is 0.

# %%
async def send_twenty(decorated, recorder):
    """Start 20 requests at once as coroutines, after the server's bucket has refilled."""
    await asyncio.sleep(1.0)  # the bucket's capacity is 2 requests and it refills 2 per second
    recorder.clear()  # the timeline starts at 0 s with the first request
    question = [{"role": "user", "content": "속도 제한을 한 문장으로 설명해 주세요."}]
    return await retry.await_simultaneously(lambda index: decorated(model=session.model, messages=question, max_tokens=20), 20)


async_create = retry.retry_with_backoff(policy=policy, recorder=recorder, rng=rng)(async_client.chat.completions.create)
jittered = await send_twenty(async_create, recorder)
lesson.table([retry.summary_row("full jitter", recorder, jittered)])

# %% [markdown]
# 코루틴 20개가 모두 성공했고, 스레드를 쓴 02번 노트북과 비슷하게 약 10초가 걸렸습니다.
# 코루틴은 기다리는 동안 이벤트 루프를 놓아 주므로, 스레드 하나로도 요청 20건이 동시에 재시도를 기다릴 수 있습니다.
# 아래 그래프는 요청별 재시도 횟수와 대기 시간 분포입니다.

# %% [markdown]
# All 20 coroutines succeeded, in about 10 seconds, much like the threads of notebook 02.
# A coroutine lets go of the event loop while it waits, so a single thread can keep 20 requests waiting for their retries at once.
# The plots below show the retries per request and the distribution of the waits.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
plots.plot_retries_per_request(recorder, ax=left)
plots.plot_wait_distribution(recorder, ax=right);

# %% [markdown]
# 재시도가 0번인 요청부터 여러 번인 요청까지 고루 퍼져 있습니다.
# 대기 시간은 상한인 2초를 넘지 않습니다.

# %% [markdown]
# The requests range from no retries to many.
# No wait goes past the 2-second cap.

# %% [markdown]
# ## 3. 지터가 없으면 · Without jitter

# %% [markdown]
# 같은 코루틴 20개를 지터 없이 다시 보냅니다.
# `peak_retries_per_250ms`(0.25초 안에 시작된 재시도의 최댓값)와 `wall_s`를 비교하세요.

# %% [markdown]
# Send the same 20 coroutines again, without jitter.
# Compare `peak_retries_per_250ms` (the most retries started within 0.25 seconds) and `wall_s`.

# %%
lockstep_recorder = Recorder()
lockstep_policy = RetryPolicy(initial_wait=0.5, multiplier=2, max_wait=2.0, jitter=None, max_attempts=30)
lockstep_create = retry.retry_with_backoff(policy=lockstep_policy, recorder=lockstep_recorder)(async_client.chat.completions.create)
lockstep = await send_twenty(lockstep_create, lockstep_recorder)
lesson.table([retry.summary_row("no jitter", lockstep_recorder, lockstep), retry.summary_row("full jitter", recorder, jittered)])

# %% [markdown]
# 지터가 없으면 재시도가 파도처럼 한꺼번에 몰려오고, 끝나기까지 시간이 더 걸립니다.
# 아래 타임라인에서 왼쪽의 429(빨간 ×)가 세로줄로 늘어선 모습과, 오른쪽에서 흩어진 모습을 비교하세요.

# %% [markdown]
# Without jitter the retries arrive together in waves, and the run takes longer to finish.
# In the timelines below, compare the 429s (red ×) standing in vertical columns on the left with the scattered ones on the right.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained", sharex=True)
plots.plot_attempt_timeline(lockstep_recorder, ax=left, title=plots.label("지터 없음", "No jitter"))
plots.plot_attempt_timeline(recorder, ax=right, title=plots.label("완전 지터", "Full jitter"));

# %% [markdown]
# 지터는 같은 순간에 실패한 클라이언트들을 시간축 위에 흩어 놓습니다.
# 그래서 버킷이 채워지는 대로 요청이 하나씩 들어가고, 가득 찬 버킷이 놀고 있는 시간이 줄어듭니다.

# %% [markdown]
# Jitter scatters clients that failed at the same moment along the time axis.
# Requests then get in one by one as the bucket refills, and the full bucket sits idle for less time.

# %% [markdown]
# ## 4. 시간 예산 · A time budget

# %% [markdown]
# 시도 횟수만으로는 한 호출이 얼마나 오래 걸릴지 알 수 없습니다.
# `max_total_seconds`를 주면, 다음 대기가 첫 시도부터 그 시간을 넘겨 끝날 때 재시도하지 않고 바로 마지막 오류를 올립니다.
# 아래 셀은 항상 429를 보내는 서버에 3초 예산으로 호출합니다.
# 걸린 시간과 포기 이유(`stop_reason`)를 보세요.

# %% [markdown]
# An attempt limit alone does not tell how long one call may take.
# With `max_total_seconds`, when the next wait would end past that many seconds after the first attempt, no retry is made and the last error is raised at once.
# The cell below calls a server that always returns 429 with a budget of 3 seconds.
# Look at the time taken and the reason for giving up (`stop_reason`).

# %%
budget_policy = RetryPolicy(initial_wait=0.5, multiplier=2, max_wait=2.0, max_attempts=30, max_total_seconds=3.0)
budgeted = retry.retry_with_backoff(policy=budget_policy, rng=rng)(async_client.chat.completions.create)
session.server.enqueue_responses([429] * 30)
try:
    await budgeted(model=session.model, messages=[{"role": "user", "content": "안녕하세요"}], max_tokens=20)
except openai.RateLimitError as error:
    print(f"caught openai.{type(error).__name__}: code={error.code}")
session.server.clear_responses()
lesson.table([budgeted.last_run.to_dict()], columns=["attempts", "sleeps", "total_wait_seconds", "elapsed_seconds", "stop_reason"])

# %% [markdown]
# 호출은 3초가 되기 전에 끝났고, `stop_reason`은 `max_total_seconds`입니다.
# 예산을 넘길 재시도는 어차피 호출하는 쪽이 기다려 주지 않으므로, 보내지 않는 편이 요청도 아끼고 오류도 빨리 알려 줍니다.
# backoff의 `max_time`은 벽시계로 재고 마지막 대기를 남은 시간만큼 줄여 한 번 더 보내므로, 여기서는 쓰지 않았습니다.

# %% [markdown]
# The call ended before 3 seconds had passed, and `stop_reason` is `max_total_seconds`.
# The caller would not wait for a retry past the budget anyway, so skipping it saves a request and reports the error sooner.
# backoff's own `max_time` measures the wall clock and shortens the last wait to the time left to send once more, so it is not used here.

# %% [markdown]
# ## 5. 이벤트 루프를 막지 않기 · Not blocking the event loop

# %% [markdown]
# 코루틴 안에서 `time.sleep`을 부르면 이벤트 루프 전체가 멈추고, 다른 코루틴도 모두 기다리게 됩니다.
# `async` 함수를 감싼 데코레이터는 `asyncio.sleep`으로 기다리므로 그런 일이 없습니다.
# 아래 셀은 1초 백오프로 재시도하는 호출과, 0.05초마다 10번 깨어나는 코루틴을 함께 돌리고 가장 긴 틈을 잽니다.

# %% [markdown]
# Calling `time.sleep` inside a coroutine stops the whole event loop, and every other coroutine waits too.
# A decorator wrapping an `async` function waits with `asyncio.sleep`, so that does not happen.
# The cell below runs a call that retries after a 1-second backoff next to a coroutine that wakes every 0.05 seconds ten times, and measures the longest gap.

# %%
async def ticker():
    """Wake up every 0.05 s ten times; return the total time and the longest gap between wake-ups."""
    started = previous = time.monotonic()
    longest_gap = 0.0
    for _ in range(10):
        await asyncio.sleep(0.05)
        now = time.monotonic()
        longest_gap = max(longest_gap, now - previous)
        previous = now
    return now - started, longest_gap


slow_retry = retry.retry_with_backoff(policy=RetryPolicy(initial_wait=1.0, jitter=None, max_attempts=2))(async_client.chat.completions.create)
session.server.enqueue_responses([503, 200])
started = time.monotonic()
_, (ticker_seconds, longest_gap) = await asyncio.gather(slow_retry(model=session.model, messages=[{"role": "user", "content": "안녕하세요"}], max_tokens=20), ticker())
print(f"retried call: {time.monotonic() - started:.2f} s, ticker: {ticker_seconds:.2f} s, longest gap: {longest_gap:.3f} s")

# %% [markdown]
# 재시도한 호출은 1초 넘게 걸렸지만, 그동안 다른 코루틴은 0.05초 간격을 거의 그대로 지키며 약 0.5초 만에 끝났습니다.
# 재시도가 기다리는 동안에도 이벤트 루프는 다른 일을 계속합니다.

# %% [markdown]
# The retried call took over a second, while the other coroutine kept its 0.05-second rhythm almost exactly and finished in about half a second.
# The event loop keeps doing other work while a retry waits.

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - `@backoff.on_exception(backoff.expo, Exception)`처럼 `max_tries`나 `max_time` 없이 쓰면 영원히 재시도합니다.
#   `giveup`이 없으면 400이나 할당량 부족(`insufficient_quota`)처럼 기다려도 소용없는 오류까지 재시도합니다.
# - backoff의 기본 지터 `full_jitter`는 전역 `random` 모듈을 쓰고, 대기 전체에 적용됩니다.
#   서버가 요청한 대기 시간을 지키려면 서버 힌트는 지터 바깥에 두세요.
# - backoff의 `max_time`은 벽시계로 재며, 마지막 대기를 남은 시간만큼 잘라 한 번 더 보냅니다.
#   `retry_with_backoff`는 주입한 시계로 재고, 예산을 넘길 재시도는 하지 않습니다.
# - backoff는 `time.sleep`과 `asyncio.sleep`을 직접 부르므로 다른 잠들기 함수를 받을 수 없습니다.
#   그래서 `retry_with_backoff`는 backoff에 0초 대기를 주고, 실제 대기는 `on_backoff` 처리기에서 주입한 `sleep`으로 합니다.
# - 코루틴 안에서 동기 클라이언트나 `time.sleep`을 쓰면 이벤트 루프가 멈춥니다.
#   `async` 코드에서는 `AsyncOpenAI`와 `async` 함수를 감싸세요.
# - backoff는 자체 `backoff` 로거로도 기록합니다.
#   `retry_with_backoff`는 그 로거를 끄고 `ratelimit_toolkit` 로거로 한 번만 기록합니다.

# %% [markdown]
# - Without `max_tries` or `max_time`, as in `@backoff.on_exception(backoff.expo, Exception)`, backoff retries forever.
#   Without `giveup`, it also retries errors that no wait fixes, such as a 400 or an exhausted quota (`insufficient_quota`).
# - backoff's default jitter, `full_jitter`, uses the global `random` module and applies to the whole wait.
#   To keep the wait the server asked for, keep the server's hint outside the jitter.
# - backoff's `max_time` measures the wall clock and cuts the last wait to the time left to send once more.
#   `retry_with_backoff` measures with the injected clock and skips a retry that would pass the budget.
# - backoff calls `time.sleep` and `asyncio.sleep` itself and takes no other sleep function.
#   So `retry_with_backoff` gives backoff a wait of 0 seconds and sleeps the real wait with the injected `sleep` in its `on_backoff` handler.
# - A synchronous client or `time.sleep` inside a coroutine stops the event loop.
#   In `async` code, use `AsyncOpenAI` and wrap `async` functions.
# - backoff also logs through its own `backoff` logger.
#   `retry_with_backoff` turns that logger off and logs once through the `ratelimit_toolkit` loggers.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - backoff 저장소와 README <https://github.com/litl/backoff>
# - Python 문서, asyncio 코루틴과 태스크 <https://docs.python.org/3/library/asyncio-task.html>
# - OpenAI Cookbook의 속도 제한 다루기 <https://cookbook.openai.com/examples/how_to_handle_rate_limits>
# - 다음 노트북 `04_retry_handwritten`: 같은 정책을 직접 쓴 반복문으로, 그리고 흔한 구현의 문제점

# %% [markdown]
# - The backoff repository and README <https://github.com/litl/backoff>
# - The Python documentation on asyncio coroutines and tasks <https://docs.python.org/3/library/asyncio-task.html>
# - The OpenAI Cookbook on handling rate limits <https://cookbook.openai.com/examples/how_to_handle_rate_limits>
# - Next notebook, `04_retry_handwritten`: the same policy as a hand-written loop, and what goes wrong in a common version
