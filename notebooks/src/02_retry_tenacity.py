# %% [markdown]
# # 02. tenacity로 재시도하기 · Retrying with tenacity

# %% [markdown]
# 429는 사고가 아니라 평소에 일어나는 일이므로, 클라이언트는 잠시 기다렸다가 다시 보내면 됩니다.
# 이 노트북은 재시도(retry)를 지수 백오프(exponential backoff)와 지터(무작위 지연, jitter)로 하는 방법을 tenacity 라이브러리로 보여 줍니다.
# 03번 노트북은 같은 정책을 backoff 라이브러리로, 04번 노트북은 직접 쓴 반복문으로 구현합니다.
# 세 가지 모두 `ratelimit_toolkit.retry`의 같은 `RetryPolicy`를 따르므로, 결과를 나란히 비교할 수 있습니다.

# %% [markdown]
# A 429 is not an accident but a routine event, so a client can simply wait a moment and send again.
# This notebook shows how to retry with exponential backoff and jitter, using the tenacity library.
# Notebook 03 builds the same policy on the backoff library, and notebook 04 writes the loop by hand.
# All three follow the same `RetryPolicy` from `ratelimit_toolkit.retry`, so their results can be compared side by side.

# %% [markdown]
# 아래 준비 셀은 모의 서버(mock server)를 시작하고 클라이언트를 만듭니다.
# 한도는 분당 요청 수(requests per minute) 120, 버스트(burst) 1초입니다: 한 번에 요청 2건까지 받고, 초당 2건씩 다시 채워집니다.
# 클라이언트는 `max_retries=0`이므로, 재시도는 모두 우리 코드가 합니다.

# %% [markdown]
# The set-up cell below starts the mock server and creates a client.
# The limit is 120 requests per minute with a burst of 1 second: the server takes at most 2 requests at once and refills 2 per second.
# The client has `max_retries=0`, so every retry is made by our code.

# %%
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
# Jitter draws from this generator; the seed makes the waits, tables and plots the same on every run.
rng = random.Random(42)

# %% [markdown]
# ## 1. 재시도 정책 하나 · One retry policy

# %% [markdown]
# `RetryPolicy`는 기다리는 시간과 멈추는 조건을 정합니다.
# n번째 재시도 전의 백오프는 `initial_wait × multiplier^(n-1)`이고, `max_wait`를 넘지 않습니다.
# 지터가 `"full"`이면 실제 대기 시간을 0과 백오프 사이에서 무작위로 뽑으므로, 첫 재시도는 1초도 안 돼 나갑니다.
# 서버가 `retry-after` 헤더나 "Please try again in 1.5s" 같은 메시지로 대기 시간을 알려 주면, 그 값을 바닥으로 삼고 그 위에 지터를 더합니다.
# 아래 표에서 재시도마다 백오프가 어떻게 커지고 어디서 멈추는지 보세요.

# %% [markdown]
# A `RetryPolicy` sets how long to wait and when to stop.
# The backoff before retry n is `initial_wait × multiplier^(n-1)`, and it never passes `max_wait`.
# With `"full"` jitter the actual wait is drawn at random between 0 and the backoff, so the first retry goes out in under a second.
# When the server suggests a wait, in a `retry-after` header or a message such as "Please try again in 1.5s", that value is the floor and the jitter is added on top.
# In the table below, see how the backoff grows with each retry and where it stops.

# %%
policy = RetryPolicy(initial_wait=0.5, multiplier=2, max_wait=2.0, jitter="full", max_attempts=30)
lesson.table([{"retry": n, "backoff_s": policy.backoff_seconds(n), "wait with full jitter (s)": f"0 – {policy.backoff_seconds(n):g}"} for n in range(1, 7)])

# %% [markdown]
# 백오프는 0.5초, 1초, 2초로 두 배씩 커지다가 2초(`max_wait`)에서 멈춥니다.
# 한도가 빡빡한 이 노트북에서는 2초면 충분하지만, 실제 서비스에서는 보통 `max_wait`를 수십 초로 잡습니다.

# %% [markdown]
# The backoff doubles from 0.5 to 1 and 2 seconds, then stops at 2 seconds (`max_wait`).
# Two seconds suits this notebook's tight limit; real services usually set `max_wait` to tens of seconds.

# %% [markdown]
# ## 2. tenacity 데코레이터 · The tenacity decorator

# %% [markdown]
# `retry.retry_with_tenacity`는 호출마다 tenacity의 부품으로 `Retrying` 객체를 조립합니다.
# 대기는 서버 힌트와 `wait_exponential`(지터가 있으면 시드를 받은 무작위 버전)의 합에 상한을 씌운 것입니다.
# 멈춤은 `stop_after_attempt`가 정하고, 재시도 여부는 `retry_if_exception`이 `errors.classify`로 판단합니다.
# `reraise=True`라서 마지막에 잡히는 예외는 `tenacity.RetryError`가 아니라 원래의 `openai` 예외입니다.
# 아래 셀은 모의 서버가 다음 두 요청에 429를 보내도록 예약하고, 재시도 로그를 켠 채 한 번 호출합니다.

# %% [markdown]
# `retry.retry_with_tenacity` assembles a tenacity `Retrying` object from tenacity's parts on every call.
# The wait is the server's hint plus `wait_exponential` (a seeded random version with jitter), with a cap.
# The stop is `stop_after_attempt`, and `retry_if_exception` decides with `errors.classify` whether to retry.
# With `reraise=True` the exception caught at the end is the original `openai` exception, never `tenacity.RetryError`.
# The cell below tells the mock server to answer the next two requests with 429, turns on the retry log, and makes one call.

# %%
recorder = Recorder()
create = retry.retry_with_tenacity(policy=policy, recorder=recorder, rng=rng)(client.chat.completions.create)

retry_log = logging.getLogger("ratelimit_toolkit.retry")
retry_log.setLevel(logging.INFO)
session.server.enqueue_responses([429, 429, 200])
reply = create(model=session.model, messages=[{"role": "user", "content": "재시도를 한 문장으로 설명해 주세요."}], max_tokens=40)
retry_log.setLevel(logging.WARNING)
print(reply.choices[0].message.content)

# %% [markdown]
# 로그 한 줄이 재시도 한 번입니다: 어떤 요청의 몇 번째 시도가 어떤 오류로 실패했는지, 얼마나 기다리는지, 서버가 얼마를 제안했는지 적혀 있습니다.
# 서버가 제안한 0.5초(분당 120건이면 요청 하나가 다시 차는 시간)가 바닥이므로, 두 대기 모두 0.5초보다 깁니다.
# 데코레이터가 붙은 함수의 `last_run`에서 방금 호출의 숫자를 읽을 수 있습니다.

# %% [markdown]
# Each log line is one retry: which request's attempt failed with which error, how long it waits, and what the server suggested.
# The server's suggestion of 0.5 seconds (the time one request takes to refill at 120 per minute) is the floor, so both waits are longer than 0.5 seconds.
# The decorated function's `last_run` contains the numbers of the call that just finished.

# %%
lesson.table([create.last_run.to_dict()], columns=["strategy", "attempts", "retries", "sleeps", "total_wait_seconds", "succeeded"])

# %% [markdown]
# 시도 3번, 재시도 2번, 대기 2번으로 성공했습니다.
# 같은 숫자가 `recorder`에도 시도마다 한 줄씩 남아 있고, 아래 그래프들은 그 기록을 읽습니다.

# %% [markdown]
# The call succeeded after 3 attempts, 2 retries and 2 sleeps.
# The same numbers are in `recorder`, one row per attempt, and the plots below read that record.

# %% [markdown]
# ## 3. 빡빡한 한도에 요청 20건 · Twenty requests under a tight limit

# %% [markdown]
# 이제 스레드 20개가 같은 순간에 요청을 하나씩 보냅니다.
# 서버는 처음 2건만 받고 나머지에 429를 보내므로, 18개 스레드가 재시도하며 순서를 기다려야 합니다.
# 아래 함수는 버킷이 다시 가득 찰 때까지 1초 기다린 뒤 20건을 한꺼번에 보냅니다.
# 표에서 포기(`gave_up`)가 0인지, 그리고 시도와 429가 몇 번이었는지 보세요.

# %% [markdown]
# Now 20 threads each send one request at the same instant.
# The server takes only the first 2 and returns 429 for the rest, so 18 threads must retry and wait their turn.
# The function below waits 1 second for the bucket to fill up again, then sends all 20 at once.
# In the table, check that `gave_up` is 0, and how many attempts and 429s it took.

# %%
def send_twenty(decorated, recorder):
    """Send 20 requests at once from 20 threads, after the server's bucket has refilled."""
    time.sleep(1.0)  # the bucket's capacity is 2 requests and it refills 2 per second
    recorder.clear()  # the timeline starts at 0 s with the first request
    question = [{"role": "user", "content": "속도 제한을 한 문장으로 설명해 주세요."}]
    return retry.call_simultaneously(lambda index: decorated(model=session.model, messages=question, max_tokens=20), 20)


jittered = send_twenty(create, recorder)
lesson.table([retry.summary_row("full jitter", recorder, jittered)])

# %% [markdown]
# 20건이 모두 성공했고, 포기한 요청은 없습니다.
# 서버가 초당 2건만 받으므로 전체 시간은 약 10초로, 한도가 허락하는 가장 빠른 속도에 가깝습니다.
# 429가 여러 번 나왔지만 모두 재시도로 흡수되었습니다.
# 아래 그래프는 요청마다 재시도가 몇 번 필요했는지와 대기 시간의 분포를 보여 줍니다.

# %% [markdown]
# All 20 requests succeeded and none gave up.
# The server takes 2 requests per second, so the whole run takes about 10 seconds, close to the fastest the limit allows.
# Many 429s came back, and retries absorbed every one of them.
# The plots below show how many retries each request needed and how the waits were distributed.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
plots.plot_retries_per_request(recorder, ax=left)
plots.plot_wait_distribution(recorder, ax=right);

# %% [markdown]
# 운 좋게 먼저 들어간 요청은 재시도가 0번이고, 늦게 들어간 요청일수록 재시도가 많습니다.
# 대기 시간은 서버가 제안한 값(1초 미만)과 상한 2초 사이에 퍼져 있습니다: 지터가 같은 순간에 몰리지 않게 흩어 놓은 것입니다.

# %% [markdown]
# The lucky requests that got in first needed 0 retries, and the later a request got in, the more retries it needed.
# The waits spread between the server's suggestion (under a second) and the 2-second cap, because the jitter scattered them instead of letting them bunch up.

# %% [markdown]
# ## 4. 지터가 하는 일 · What jitter does

# %% [markdown]
# 같은 실험을 지터 없이 다시 합니다.
# 지터가 없으면 같은 순간에 실패한 클라이언트들이 똑같이 기다렸다가 다시 한꺼번에 몰려옵니다.
# 표의 `peak_retries_per_250ms`(0.25초 안에 시작된 재시도의 최댓값)와 `wall_s`(전체 시간)를 비교하세요.

# %% [markdown]
# Now run the same experiment without jitter.
# Without jitter, clients that failed at the same moment wait exactly as long and then all come back together.
# Compare `peak_retries_per_250ms` (the most retries started within 0.25 seconds) and `wall_s` (the total time) in the table.

# %%
lockstep_recorder = Recorder()
lockstep_policy = RetryPolicy(initial_wait=0.5, multiplier=2, max_wait=2.0, jitter=None, max_attempts=30)
lockstep_create = retry.retry_with_tenacity(policy=lockstep_policy, recorder=lockstep_recorder)(client.chat.completions.create)
lockstep = send_twenty(lockstep_create, lockstep_recorder)
lesson.table([retry.summary_row("no jitter", lockstep_recorder, lockstep), retry.summary_row("full jitter", recorder, jittered)])

# %% [markdown]
# 지터가 없으면 재시도 18건이 0.25초 안에 한꺼번에 몰리고, 전체 시간은 지터가 있을 때의 두 배 가까이 됩니다.
# 서버는 한 번에 2건만 받으므로, 몰려온 시도 대부분이 429를 받고 다음 파도까지 모두 함께 기다립니다.
# 그 사이 버킷은 가득 찬 채로 쉬게 되어 처리량(throughput)을 잃습니다.
# 아래 그래프는 요청마다 한 줄을 그리고, 시도를 시작 시각에 표시합니다(빨간 ×는 429, 초록 ●는 성공).

# %% [markdown]
# Without jitter, 18 retries arrive within a quarter of a second, and the whole run takes nearly twice as long as with jitter.
# The server takes only 2 at a time, so most of each wave gets a 429 and the whole crowd waits together for the next wave.
# Meanwhile the bucket sits full and idle, and throughput is lost.
# The plot below draws one row per request and marks each attempt at its start time (red × for a 429, green ● for success).

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained", sharex=True)
plots.plot_attempt_timeline(lockstep_recorder, ax=left, title=plots.label("지터 없음", "No jitter"))
plots.plot_attempt_timeline(recorder, ax=right, title=plots.label("완전 지터", "Full jitter"));

# %% [markdown]
# 왼쪽은 429가 세로줄로 늘어서 있습니다: 모든 클라이언트가 같은 순간에 재시도하는 모습입니다.
# 오른쪽은 시도가 시간축 위에 흩어져 있어서, 버킷이 채워지는 대로 요청이 하나씩 들어갑니다.

# %% [markdown]
# On the left the 429s line up in vertical columns: every client retries at the same moment.
# On the right the attempts are scattered along the time axis, so requests get in one by one as the bucket refills.

# %% [markdown]
# ## 5. 기다려도 소용없는 오류 · Errors no wait can fix

# %% [markdown]
# 할당량 부족(`insufficient_quota`)은 429이지만, 결제 문제라서 기다린다고 풀리지 않습니다.
# `errors.classify`는 이런 오류와 "Request too large", 400, 401, 403, 404, 422를 재시도하지 않을 오류로 분류합니다.
# 아래 셀은 모의 서버를 할당량 부족 상태로 바꾸고 한 번 호출합니다.
# 서버가 받은 요청 수와 잡힌 예외를 보세요.

# %% [markdown]
# An exhausted quota (`insufficient_quota`) is a 429, but it is a billing problem that no wait will fix.
# `errors.classify` marks it, "Request too large", 400, 401, 403, 404 and 422 as errors not to retry.
# The cell below switches the mock server into the quota-exhausted mode and makes one call.
# Look at how many requests the server received and which exception was caught.

# %%
session.configure(quota_exhausted=True)
session.reset_stats()
try:
    create(model=session.model, messages=[{"role": "user", "content": "안녕하세요"}], max_tokens=20)
except openai.RateLimitError as error:
    print(f"caught openai.{type(error).__name__}: code={error.code}")
session.configure(quota_exhausted=False)
print(f"HTTP requests: {session.stats()['totals']['requests']}, attempts: {create.last_run.attempts}, stop_reason: {create.last_run.stop_reason}")

# %% [markdown]
# 요청은 딱 한 번 나갔고, 대기 없이 원래의 `openai.RateLimitError`가 `code`와 함께 그대로 올라왔습니다.
# 호출하는 쪽은 `code`를 보고 결제 담당자에게 알리는 등 다른 조치를 할 수 있습니다.
# WARNING 로그 한 줄은 포기한 작업을 기록합니다.

# %% [markdown]
# Exactly one request went out, and the original `openai.RateLimitError` came up at once, with its `code`, without any wait.
# The caller can read `code` and act differently, for example by alerting the person in charge of billing.
# The one WARNING log line records the work that was given up.

# %% [markdown]
# ## 6. 재시도는 한 계층에서만 · Only one layer retries

# %% [markdown]
# `openai` 클라이언트는 기본값으로 스스로 두 번 재시도합니다.
# 그 클라이언트를 우리 데코레이터로 감싸면, 우리 시도 한 번마다 클라이언트가 최대 세 번 요청하므로 3번 × 3번 = 9번이 됩니다.
# 아래 셀은 항상 429를 보내는 서버에 두 클라이언트로 시도 3번짜리 호출을 하고, 서버가 받은 요청 수를 셉니다.

# %% [markdown]
# The `openai` client retries twice on its own by default.
# Wrapping such a client in our decorator makes each of our attempts up to three requests: 3 × 3 = 9.
# The cell below makes a 3-attempt call through each of two clients against a server that always returns 429, and counts the requests the server received.

# %%
def count_requests(some_client):
    """Make one 3-attempt call against a server that always returns 429; return the HTTP requests it received."""
    session.reset_stats()
    session.server.enqueue_responses([{"status": 429, "headers": {"retry-after-ms": "1"}}] * 20)
    three_attempts = retry.retry_with_tenacity(policy=RetryPolicy(initial_wait=0.01, max_attempts=3))(some_client.chat.completions.create)
    try:
        three_attempts(model=session.model, messages=[{"role": "user", "content": "안녕하세요"}], max_tokens=20)
    except openai.RateLimitError:
        pass
    session.server.clear_responses()
    return session.stats()["totals"]["requests"]


lesson.table(
    [
        {"client": "session.client() (max_retries=0)", "HTTP requests": count_requests(client)},
        {"client": "session.client(max_retries=2)", "HTTP requests": count_requests(session.client(max_retries=2))},
    ]
)

# %% [markdown]
# `max_retries=0`이면 요청이 3번, 기본값인 2면 9번입니다.
# 두 계층이 서로의 대기를 모르고 각자 재시도하므로, 한도 위에서 요청만 늘어납니다.
# 직접 클라이언트를 만들 때는 `retry.make_client(...)`가 `max_retries=0`을 강제합니다.

# %% [markdown]
# With `max_retries=0` the server gets 3 requests; with the default of 2 it gets 9.
# Each layer retries without knowing the other's waits, which only adds requests on top of the limit.
# When you build a client yourself, `retry.make_client(...)` enforces `max_retries=0`.

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 재시도는 API 호출 하나만 감싸세요.
#   파일 쓰기나 DB 저장까지 감싸면, 재시도할 때 그 일도 되풀이됩니다.
# - tenacity를 직접 쓸 때 `reraise=True`를 빠뜨리면 호출하는 쪽은 `tenacity.RetryError`를 받습니다.
#   그러면 `except openai.RateLimitError`가 잡지 못하고, `code`를 읽으려면 `.last_attempt`를 거쳐야 합니다.
# - tenacity의 `wait_random_exponential`은 전역 `random` 모듈에서 뽑으므로 시드를 따로 줄 수 없습니다.
#   `retry_with_tenacity`는 `rng=`로 받은 `random.Random`을 씁니다.
# - `max_retries`가 기본값인 클라이언트를 감싸면 시도 횟수가 곱해집니다(3 × 3 = 9).
#   `session.client()`와 `retry.make_client()`는 `max_retries=0`입니다.
# - 재시도만으로는 처리량이 늘지 않습니다.
#   거절된 요청도 분당 한도에 계산될 수 있으므로, 큰 작업은 05번 노트북처럼 미리 속도를 조절(throttling)하세요.
# - 여러 스레드가 한 데코레이터 함수를 동시에 쓰면 `last_run`은 마지막에 끝난 호출의 것입니다.
#   요청별 숫자는 `Recorder`에서 읽으세요.

# %% [markdown]
# - Wrap only the API call in retries.
#   If you also wrap a file write or a database insert, a retry repeats that work too.
# - When you use tenacity directly and forget `reraise=True`, the caller gets `tenacity.RetryError`.
#   An `except openai.RateLimitError` then misses it, and reading `code` needs a detour through `.last_attempt`.
# - tenacity's `wait_random_exponential` draws from the global `random` module, so it cannot take a seed of its own.
#   `retry_with_tenacity` uses the `random.Random` passed as `rng=`.
# - Wrapping a client with the default `max_retries` multiplies the attempts (3 × 3 = 9).
#   `session.client()` and `retry.make_client()` have `max_retries=0`.
# - Retrying alone does not raise throughput.
#   Refused requests may count against the per-minute limit, so pace big jobs in advance (throttling), as in notebook 05.
# - When several threads share one decorated function, `last_run` belongs to the call that finished last.
#   Read per-request numbers from a `Recorder`.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - tenacity 저장소와 문서 안내 <https://github.com/jd/tenacity>
# - OpenAI Cookbook의 속도 제한 다루기 <https://cookbook.openai.com/examples/how_to_handle_rate_limits>
# - OpenAI 오류 코드 안내서: 429의 두 가지 뜻 <https://platform.openai.com/docs/guides/error-codes>
# - AWS Architecture Blog, "Exponential Backoff And Jitter": 지터 방식의 비교 <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>
# - 다음 노트북 `03_retry_backoff`: 같은 정책을 backoff 라이브러리와 asyncio로

# %% [markdown]
# - The tenacity repository and its documentation links <https://github.com/jd/tenacity>
# - The OpenAI Cookbook on handling rate limits <https://cookbook.openai.com/examples/how_to_handle_rate_limits>
# - OpenAI's error-code guide: the two meanings of 429 <https://platform.openai.com/docs/guides/error-codes>
# - AWS Architecture Blog, "Exponential Backoff And Jitter": jitter schemes compared <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>
# - Next notebook, `03_retry_backoff`: the same policy with the backoff library and asyncio
