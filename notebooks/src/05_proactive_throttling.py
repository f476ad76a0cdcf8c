# %% [markdown]
# # 05. 미리 속도 조절하기 · Proactive throttling

# %% [markdown]
# 02~04 노트북의 재시도(retry)는 429를 받은 뒤에 대처합니다.
# 대량 작업에서는 그보다 한도에 부딪히지 않게 미리 속도를 조절(throttling)하는 편이 낫습니다.
# 거절된 요청도 OpenAI의 분당 한도에 계산되므로, 재시도만으로는 예산이 새어 나가기 때문입니다.
# 이 노트북은 같은 작업을 세 가지 방법으로 실행해 처리량(throughput)과 버려진 요청을 비교합니다: 재시도만 하기, 60/RPM의 고정 지연, 토큰 버킷(token bucket).

# %% [markdown]
# The retries of notebooks 02 to 04 react after a 429 has arrived.
# For batch work it is better to throttle in advance, so that the limit is never hit.
# OpenAI counts refused requests against the per-minute limit too, so retries alone leak budget.
# This notebook runs the same job three ways and compares throughput and wasted requests: retries alone, a fixed delay of 60/RPM, and token buckets.

# %% [markdown]
# 준비 셀은 모의 서버(mock server)를 분당 요청 수(RPM) 120, 분당 토큰 수(TPM) 18,000, 버스트(burst) 1초로 시작합니다.
# 버스트 1초이므로 서버는 초당 요청 2건과 초당 토큰 300개까지만 받습니다.
# 출력된 한 줄에서 한도를 확인하세요.

# %% [markdown]
# The set-up cell starts the mock server at 120 requests per minute (RPM), 18,000 tokens per minute (TPM) and a burst of 1 second.
# With a 1-second burst the server takes at most 2 requests and 300 tokens per second.
# Check the limits in the printed line.

# %%
import matplotlib.pyplot as plt

from ratelimit_toolkit import lesson, plots
from ratelimit_toolkit.limiter import RateLimiter, compare, delay_for
from ratelimit_toolkit.tokens import estimate_request

# `compare` seeds its own generators (the prompts and the retry jitter), so every rerun sends the same job.
LIMITS = {"requests_per_minute": 120, "tokens_per_minute": 18_000, "burst_seconds": 1.0}
session = lesson.start(rpm=120, tpm=18_000, burst_seconds=1.0)
client = session.client()

# %% [markdown]
# ## 1. 작업 · The job

# %% [markdown]
# 작업은 한국어와 영어를 번갈아 쓰는 채팅 요청 30개입니다.
# 대부분은 `max_tokens=100`이지만, 네 번째마다 `max_tokens=400`으로 긴 답을 요청합니다.
# 서버는 요청을 받아들이는 순간 프롬프트의 토큰과 `max_tokens`를 합쳐 분당 토큰 수에서 뺍니다.
# 아래 표의 `ideal (s)`는 두 한도가 허락하는 가장 짧은 시간입니다: 각 한도마다 (총량 − 버스트)를 초당 보충량으로 나누고, 둘 중 긴 쪽을 택합니다.

# %% [markdown]
# The job is 30 chat requests that alternate between Korean and English.
# Most ask for `max_tokens=100`, but every fourth asks for a long answer with `max_tokens=400`.
# At admission, the server takes the prompt's tokens plus `max_tokens` from the tokens-per-minute limit.
# The `ideal (s)` column below is the shortest time the two limits allow: for each limit, (total − burst) divided by the refill per second, and the longer of the two.

# %%
bodies = compare.lesson_bodies(30, model=session.model, long_every=4)
charges = [estimate_request("chat/completions", body).total for body in bodies]
lesson.table([{
    "requests": len(bodies),
    "tokens charged": sum(charges),
    "smallest": min(charges),
    "largest": max(charges),
    "ideal (s)": round(compare.ideal_seconds(bodies, **LIMITS), 1),
}])

# %% [markdown]
# 요청 30건은 분당 요청 수로는 14초면 되지만, 토큰 약 5,800개는 초당 300개씩 약 18초가 걸립니다.
# 그러니 이 작업은 토큰 한도에 묶입니다.
# 긴 요청 하나(약 420토큰)는 버스트 300토큰보다 커서, 버킷이 가득 찰 때까지 기다렸다가 들어가고 버킷을 빚진 상태로 남깁니다.

# %% [markdown]
# The request limit alone would let 30 requests through in 14 seconds, but about 5,800 tokens at 300 per second take about 18 seconds.
# This job is therefore bound by the token limit.
# A long request (about 420 tokens) is larger than the 300-token burst, so it waits for a full bucket, goes in, and leaves the bucket in debt.

# %% [markdown]
# ## 2. 재시도만 하기 · Retries alone

# %% [markdown]
# 첫 번째 방법은 스레드 8개로 요청을 최대한 빨리 보내고, 429는 04 노트북의 직접 작성한 지수 백오프(exponential backoff) 데코레이터로 재시도합니다.
# 첫 재시도는 0.25초 안팎이고 대기는 2초를 넘지 않으며, 서버가 메시지로 알려 주는 대기 시간을 따릅니다.
# 실행하는 데 20초쯤 걸립니다.

# %% [markdown]
# The first way sends the requests as fast as 8 threads can and retries 429s with notebook 04's hand-written exponential backoff decorator.
# The first retry waits around 0.25 seconds, no wait exceeds 2 seconds, and the wait the server suggests in its message is honoured.
# It takes about 20 seconds to run.

# %%
unpaced = compare.run_unpaced(client, bodies, limits=LIMITS, concurrency=8, server=session.server)
lesson.table([unpaced.row()])

# %% [markdown]
# 요청 30건을 보내려고 HTTP 호출을 그 몇 배나 했고, 그 대부분이 429로 거절되었습니다.
# 모의 서버는 거절된 요청을 한도에 계산하지 않지만, OpenAI는 계산합니다: 실제 API였다면 거절이 거절을 부르며 더 느려졌을 것입니다.

# %% [markdown]
# Sending 30 requests took several times as many HTTP calls, and most of them were refused with 429.
# The mock server does not count refused requests against the limit, but OpenAI does: against the real API, refusals would have caused more refusals and a slower run.

# %% [markdown]
# ## 3. 고정 지연 60/RPM · A fixed delay of 60/RPM

# %% [markdown]
# 가장 간단한 속도 조절은 요청 사이에 60/RPM초를 두는 것입니다.
# `delay_for(120)`은 0.5초이고, `paced(120)` 데코레이터는 호출 시작 간격을 0.5초로 맞춥니다.
# 요청 수는 지키지만 토큰은 모르므로, 긴 요청이 이어지면 토큰 한도에서 429를 받습니다: 그래서 여기서도 같은 재시도 데코레이터를 씌웁니다.

# %% [markdown]
# The simplest throttling puts 60/RPM seconds between requests.
# `delay_for(120)` is 0.5 seconds, and the `paced(120)` decorator spaces the starts of calls 0.5 seconds apart.
# It respects the request limit but ignores tokens, so long requests in a row get 429s from the token limit: that is why the same retry decorator wraps it here too.

# %%
print(f"delay_for(120) = {delay_for(120)} s")
fixed = compare.run_fixed_delay(client, bodies, limits=LIMITS, server=session.server)
lesson.table([fixed.row()])

# %% [markdown]
# 429는 크게 줄었지만 없어지지 않았습니다: 모두 토큰 한도에서 나온 거절입니다.
# 0.5초마다 요청을 보내면 초당 토큰이 평균 약 390개로, 한도인 300개를 넘기 때문입니다.
# 재시도 대기만큼 시간이 늘어나 이상적인 시간보다 느립니다.

# %% [markdown]
# The 429s dropped sharply but did not disappear: every one of them came from the token limit.
# One request every 0.5 seconds averages about 390 tokens per second, above the limit of 300.
# The retry waits add up, so the run is slower than the ideal time.

# %% [markdown]
# ## 4. 토큰 버킷 · Token buckets

# %% [markdown]
# 토큰 버킷은 한도 하나를 양동이로 봅니다.
# 양동이에는 버스트만큼(여기서는 요청 2건, 토큰 300개)이 들어가고, 1초에 한도의 60분의 1씩 끊김 없이 다시 채워집니다.
# `RateLimiter`는 요청용과 토큰용 버킷 두 개를 함께 보고, 두 버킷 모두에 여유가 생기는 순간까지 기다렸다가 요청을 들여보냅니다.
# 기다리는 요청은 도착한 순서대로 줄을 서므로, 큰 요청이 작은 요청들에 계속 밀리지 않습니다.
# 아래 셀은 버킷 상태를 보여 줍니다: 수위(level), 용량(capacity), 대기 중인 요청 수(waiters), 가득 찰 때까지 남은 시간(full_in).

# %% [markdown]
# A token bucket treats one limit as a bucket.
# The bucket's capacity is one burst (here 2 requests and 300 tokens), and it refills continuously, by one sixtieth of the limit every second.
# `RateLimiter` watches a request bucket and a token bucket together and admits a request at the moment both have room for it.
# Waiting requests queue in arrival order, so a large request is never pushed back by a stream of small ones.
# The cell below shows the buckets' state: level, capacity, waiting requests (waiters), and the time until full (full_in).

# %%
demo_limiter = RateLimiter(LIMITS["requests_per_minute"], LIMITS["tokens_per_minute"], burst_seconds=LIMITS["burst_seconds"])
demo_limiter.acquire(charges[3])
demo_limiter.buckets

# %% [markdown]
# 420토큰짜리 요청 하나가 들어가자 토큰 버킷은 300에서 약 −120으로, 빚진 상태가 되었습니다.
# 다음 요청은 버킷이 다시 찰 때까지 기다립니다.
# 이제 같은 작업을 이 방식으로 실행합니다: 스레드 8개가 요청마다 예상 토큰 수만큼 `acquire`로 기다린 뒤 보내고, 응답 헤더(response headers)는 `observe`에 넘깁니다.

# %% [markdown]
# One 420-token request took the token bucket from 300 to about −120, into debt.
# The next request waits until the bucket has refilled.
# Now the same job runs this way: 8 threads each wait in `acquire` for the request's estimated tokens before sending, and hand the response headers to `observe`.

# %%
bucket = compare.run_token_bucket(client, bodies, limits=LIMITS, concurrency=8, server=session.server)
lesson.table([bucket.row()])

# %% [markdown]
# 429가 하나도 없고, 걸린 시간은 이상적인 시간보다 3%쯤 깁니다.
# 그 차이는 버스트보다 큰 요청마다 두는 0.05초의 여유(`margin_seconds`, 네트워크 지연의 흔들림을 흡수)와 마지막 응답을 기다린 시간입니다.
# 요청마다 예상 토큰을 미리 계산하므로, 서버가 거절할 요청은 처음부터 보내지 않습니다.

# %% [markdown]
# There is not a single 429, and the run took about 3% longer than the ideal time.
# The difference is a 0.05-second margin before each request larger than the burst (`margin_seconds`, which absorbs variation in network delay), plus the wait for the last response.
# Because each request's tokens are estimated in advance, nothing the server would refuse is ever sent.

# %% [markdown]
# ## 5. 세 방법 비교 · The three ways compared

# %% [markdown]
# 표에서 `HTTP calls`와 `429s`는 버려진 호출을, `efficiency`는 이상적인 시간 ÷ 실제 시간을 보여 줍니다.

# %% [markdown]
# In the table, `HTTP calls` and `429s` show the wasted calls, and `efficiency` is the ideal time divided by the actual time.

# %%
runs = [unpaced, fixed, bucket]
lesson.table([run.row() for run in runs])

# %% [markdown]
# 아래 그래프는 시간에 따라 완료된 요청 수를 누적해 그립니다.
# 점선은 분당 요청 수 한도이고, 기울기가 처리량입니다.
# 어느 선이 가장 먼저 30에 닿는지 보세요.

# %% [markdown]
# The plot below draws the running total of completed requests over time.
# The dashed line is the request limit, and the slope is the throughput.
# Check which line reaches 30 first.

# %%
ax = None
for run in runs:
    ax = plots.plot_throughput(run.recorder, limit_per_minute=LIMITS["requests_per_minute"], label=run.label, ax=ax)

# %% [markdown]
# 재시도만 한 선은 전반부에 점선을 따라갑니다: 토큰 한도가 긴 요청을 거절하는 동안 짧은 요청들이 먼저 지나가기 때문입니다.
# 미뤄진 긴 요청들은 끝에 남고, 길어진 백오프 대기 때문에 선이 계단처럼 멈췄다 뛰며 늦게 끝납니다.
# 토큰 버킷은 도착 순서를 지키므로 처음에는 조금 뒤처지지만 가장 먼저 끝납니다.
# 고정 지연은 고르지만 가장 낮습니다: 토큰 한도의 429마다 재시도 대기가 더해집니다.

# %% [markdown]
# In the first half the retries-only line follows the dashed line: while the token limit refuses the long requests, the short ones get through first.
# The postponed long requests are left for the end, where growing backoff waits make the line stall and jump like a staircase, and it finishes late.
# The token bucket keeps arrival order, so it falls a little behind at first but finishes first.
# The fixed delay is even but the lowest: every 429 from the token limit adds a retry wait.

# %% [markdown]
# 다음 그래프는 서버가 본 초당 요청을 방법별로 보여 줍니다: 초록은 받아들인 요청, 빨강은 429로 거절한 요청입니다.
# 점선은 초당 요청 한도(2건)입니다.

# %% [markdown]
# The next plots show the requests per second the server saw, one panel per method: green bars were admitted, red bars were refused with 429.
# The dashed line is the request limit per second (2).

# %%
fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True, layout="constrained")
for run, panel in zip(runs, axes):
    plots.plot_timeline(run.server_stats, limit_per_second=2, ax=panel, title=run.label)

# %% [markdown]
# 빨간 막대가 버려진 요청입니다: 재시도만 한 실행에서 가장 많고, 토큰 버킷에서는 없습니다.
# 초록 막대가 점선보다 높은 초도 있습니다: 그 초가 시작할 때 버킷에 2건이 있었고, 그 초 안에 1건이 더 채워졌기 때문입니다.

# %% [markdown]
# The red bars are wasted requests: most in the retries-only run, none with the token bucket.
# Some seconds show a green bar above the dashed line: the bucket held 2 requests when that second began and refilled 1 more within it.

# %% [markdown]
# ## 6. 응답 헤더로 한도 배우기 · Learning the limits from response headers

# %% [markdown]
# 한도를 모르거나 잘못 알고 있어도 괜찮습니다.
# 모든 응답에는 `x-ratelimit-limit-*`, `x-ratelimit-remaining-*`, `x-ratelimit-reset-*` 헤더가 붙고, `observe`는 이 헤더로 한도와 버킷 수위를 고칩니다.
# `RateLimiter.learning()`은 초당 요청 1건으로 조심스럽게 시작해서 첫 응답의 헤더로 한도를 정합니다.
# 아래 셀은 한도를 10배 크게 잘못 안 리미터와 한도를 모르는 리미터에 응답 하나씩을 보여 줍니다.

# %% [markdown]
# Not knowing the limits, or knowing the wrong ones, is fine.
# Every response carries `x-ratelimit-limit-*`, `x-ratelimit-remaining-*` and `x-ratelimit-reset-*` headers, and `observe` corrects the limits and bucket levels from them.
# `RateLimiter.learning()` starts carefully at one request per second and takes its limits from the first response's headers.
# The cell below shows one response to a limiter that believes limits 10 times too high, and to one that knows no limits.

# %%
def limits_of(name, limiter, when):
    return {"limiter": name, "when": when, "RPM": limiter.requests_per_minute, "TPM": limiter.tokens_per_minute}


limiters = {"10x too high": RateLimiter(1200, 180_000), "learning": RateLimiter.learning()}
rows = [limits_of(name, limiter, "before") for name, limiter in limiters.items()]
raw = client.chat.completions.with_raw_response.create(**bodies[0])
for limiter in limiters.values():
    limiter.observe(raw.headers)
rows += [limits_of(name, limiter, "after one response") for name, limiter in limiters.items()]
lesson.table(rows)

# %% [markdown]
# 응답 하나로 두 리미터 모두 서버의 한도인 분당 요청 120, 분당 토큰 18,000을 갖게 되었습니다.
# 처음부터 한도를 알려 주는 편이 가장 빠르지만, 헤더를 계속 넘겨 주면 한도가 바뀌어도 따라갑니다.

# %% [markdown]
# After one response both limiters hold the server's limits: 120 requests and 18,000 tokens per minute.
# Giving the limits up front is fastest, but passing every response's headers keeps the limiter right when the limits change.

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 토큰 버킷은 요청마다 예상 토큰을 씁니다: 프롬프트의 토큰과 `max_tokens`×`n`.
#   `max_tokens`를 빼먹으면 `tokens.DEFAULT_OUTPUT_TOKENS`의 기본값(채팅 256)으로 계산하므로, 긴 답을 받을 작업이라면 직접 정해 주세요.
# - `refund`로 실제로 쓰지 않은 토큰을 돌려받을 수 있지만, 서버가 처음 계산한 토큰을 그대로 두면 리미터만 앞서 나가 429를 부릅니다.
#   모의 서버가 그렇게 동작하며, `benchmarks/limiter.py refund`로 그 차이를 잴 수 있습니다.
# - 분당 한도보다 큰 요청은 기다려도 들어갈 수 없으므로 `acquire`가 바로 `RequestTooLargeError`를 냅니다.
#   버스트보다만 큰 요청은 버킷이 찰 때까지 기다렸다 들어갑니다.
# - `burst_seconds=1`이 안전한 기본값입니다.
#   01 노트북에서 본 것처럼 분당 한도는 초 단위처럼 더 짧은 구간으로 적용될 수 있으므로, 1분치를 한꺼번에 쓰면 429를 받을 수 있습니다.
# - 리미터는 한 프로세스 안에서만 한도를 나눕니다.
#   같은 API 키를 쓰는 프로세스가 여럿이면 08 노트북의 Redis 리미터처럼 한도를 함께 나눠야 합니다.
# - 고정 지연은 요청 수만 압니다.
#   요청 크기가 고르고 토큰 한도가 넉넉할 때만 충분합니다.

# %% [markdown]
# - The token bucket charges each request its estimated tokens: the prompt's tokens plus `max_tokens` × `n`.
#   Without `max_tokens` it charges the default in `tokens.DEFAULT_OUTPUT_TOKENS` (256 for chat), so set it yourself for jobs with long answers.
# - `refund` gives back tokens that were charged but not used, but when the server keeps charging its first estimate, the limiter runs ahead of it and invites 429s.
#   The mock server behaves that way; `benchmarks/limiter.py refund` measures the difference.
# - A request larger than the per-minute limit can never get in, so `acquire` raises `RequestTooLargeError` at once.
#   A request larger than the burst only waits for a full bucket and then goes in.
# - `burst_seconds=1` is the safe default.
#   As notebook 01 shows, per-minute limits may be enforced over shorter periods such as seconds, so spending a whole minute's budget at once can get 429s.
# - The limiter shares the limits within one process only.
#   Several processes using one API key must share them, as notebook 08's Redis limiter does.
# - A fixed delay knows only the request count.
#   It is enough only when requests are of even size and the token limit is generous.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - OpenAI 속도 제한 안내서: 한도, 헤더, 짧은 구간 적용 <https://platform.openai.com/docs/guides/rate-limits>
# - 토큰 버킷 알고리즘 <https://en.wikipedia.org/wiki/Token_bucket>
# - `benchmarks/limiter.py`: 리미터의 정확도와 `acquire` 한 번의 오버헤드를 aiolimiter와 나란히 잽니다
# - 다음 노트북 `06_batching_prompts`: 요청 한도에 묶일 때 여러 프롬프트를 한 요청에 담기
# - `07_parallel_processor`: 이 리미터로 큰 JSONL 작업을 처리하는 도구

# %% [markdown]
# - OpenAI's rate-limit guide: limits, headers, enforcement over shorter periods <https://platform.openai.com/docs/guides/rate-limits>
# - The token bucket algorithm <https://en.wikipedia.org/wiki/Token_bucket>
# - `benchmarks/limiter.py`: measures the limiter's accuracy and the overhead of one `acquire` beside aiolimiter
# - Next notebook, `06_batching_prompts`: many prompts in one request when the request limit binds
# - `07_parallel_processor`: the tool that runs large JSONL jobs with this limiter
