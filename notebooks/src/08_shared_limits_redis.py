# %% [markdown]
# # 08. 여러 프로세스가 나눠 쓰는 속도 제한 · One rate limit shared by many processes

# %% [markdown]
# 속도 제한(rate limit)은 API 키 하나가 아니라 조직(organization)과 모델마다 하나씩 있습니다.
# 같은 조직의 키로 여러 프로세스나 여러 컴퓨터가 동시에 요청을 보내면, 모두가 한 한도를 나눠 써야 합니다.
# 05 노트북의 토큰 버킷(token bucket) 제한기는 자기 프로세스가 보낸 요청만 세므로, 프로세스가 네 개면 한도의 네 배를 보내려고 합니다.
# 이 노트북은 그 초과를 모의 서버(mock server)로 측정한 뒤, 버킷을 Redis에 두어 모든 프로세스가 한 한도를 지키게 합니다.

# %% [markdown]
# A rate limit belongs to an organization and a model, not to one API key or one program.
# When several processes or machines send requests with keys of the same organization at the same time, they all share one limit.
# The token bucket limiter of notebook 05 counts only the requests of its own process, so four processes try to send four times the limit.
# This notebook measures that overrun against the mock server, then keeps the buckets in Redis so that every process stays within one limit.

# %% [markdown]
# 준비 셀은 분당 요청 수(requests per minute, RPM) 600, 버스트(burst) 1초인 모의 서버를 시작합니다.
# 버스트 1초이므로 서버는 초당 10건까지만 받습니다.
# 분당 토큰 수(tokens per minute, TPM)는 넉넉하게 두어, 이 노트북에서는 요청 수 한도만 작동합니다.
# 작업자(worker) 프로세스 4개가 각각 30건씩, 모두 120건을 보냅니다.

# %% [markdown]
# The set-up cell starts a mock server at 600 requests per minute (RPM) with a burst of 1 second.
# With a 1-second burst the server accepts at most 10 requests per second.
# The tokens-per-minute (TPM) limit is generous, so only the request limit matters in this notebook.
# Four worker processes send 30 requests each, 120 in all.

# %%
from ratelimit_toolkit import lesson, plots
from ratelimit_toolkit.redis_limiter import RedisRateLimiter, SharedLimiterUnavailableError, start_if_installed
from ratelimit_toolkit.redis_limiter import workload

RPM, PROCESSES, REQUESTS_PER_PROCESS = 600, 4, 30
session = lesson.start(rpm=RPM, tpm=10_000_000, burst_seconds=1.0)
# Each worker seeds its retry jitter from its index (WorkerPlan.seed), so reruns wait the same way.
job = {"processes": PROCESSES, "requests_per_process": REQUESTS_PER_PROCESS}

# %% [markdown]
# 작업자는 별도의 파이썬 프로세스입니다(`multiprocessing`의 spawn 방식).
# 각 작업자는 요청마다 먼저 제한기에서 허락을 받고, `openai` 클라이언트로 보내고, 응답 헤더(response headers)를 제한기의 `observe`에 넘깁니다.
# 429를 받으면 서버가 알려 준 시간만큼 기다렸다가 재시도(retry)합니다.

# %% [markdown]
# Each worker is a separate Python process (the `spawn` method of `multiprocessing`).
# For every request a worker first waits for its limiter, then sends the request with the `openai` client and passes the response headers to the limiter's `observe`.
# On a 429 it waits as long as the server suggests and retries.

# %% [markdown]
# ## 1. 프로세스마다 로컬 제한기 · A local limiter in every process

# %% [markdown]
# 먼저 작업자마다 `RateLimiter(600, ...)`를 하나씩 줍니다.
# 제한기마다 한도 전체를 자기 몫으로 여기므로, 넷이 합쳐 초당 40건까지 보내려 합니다.
# 표에서 `calls`(보낸 호출 수)와 `429s`를 보세요.

# %% [markdown]
# First, every worker gets its own `RateLimiter(600, ...)`.
# Each limiter takes the whole limit as its own, so together the four try to send up to 40 requests per second.
# Look at `calls` (HTTP calls sent) and `429s` in the table.

# %%
local_run = workload.run_workers(
    workload.make_plans(session.base_url, session.model, limiter_factory=workload.local_limiter(RPM, None), **job),
    label="local", requests_per_minute=RPM, burst_seconds=1.0, server=session.server,
)
lesson.table([local_run.row()])

# %% [markdown]
# 120건을 끝내려고 그보다 훨씬 많은 호출을 보냈고, 그중 대부분이 429로 거절되었습니다.
# 재시도 횟수를 다 써 버려 포기한 요청(`given up`)이 나올 수도 있습니다.
# 제한기가 각자 한도를 지켜도, 합친 양은 한도를 넘습니다.
# 아래 그래프는 서버가 본 초당 요청입니다: 초록은 받아들인 요청, 빨강은 429, 점선은 초당 한도입니다.

# %% [markdown]
# Finishing 120 requests took far more calls than that, and most of them were refused with 429.
# A request may even run out of attempts (`given up`).
# Every limiter kept to the limit on its own, yet together they exceeded it.
# The plot below shows the requests per second as the server saw them: green for admitted, red for 429, and the dashed line for the limit per second.

# %%
plots.plot_timeline(local_run.timeline, limit_per_second=RPM / 60, title=plots.label("프로세스마다 로컬 제한기", "A local limiter in every process"));

# %% [markdown]
# 서버는 초당 10건만 받으므로 처리량(throughput)은 한도에 머물고, 그 위의 빨간 막대는 모두 헛된 호출입니다.
# 이 모의 서버는 거절한 요청을 한도에서 빼지 않지만, OpenAI는 거절된 요청도 분당 한도에 셉니다.
# 그러면 헛된 호출이 한도를 더 깎아 먹어서 초과가 더 오래 이어집니다.

# %% [markdown]
# The server accepts only 10 requests per second, so the throughput stays at the limit, and every red bar above it is a wasted call.
# This mock server does not count refused requests against the limit, but OpenAI counts them against the per-minute limit too.
# There the wasted calls eat into the limit as well, and the overrun lasts longer.

# %% [markdown]
# ## 2. Redis 시작하기 · Starting Redis

# %% [markdown]
# 한도를 나누려면 모든 프로세스가 같은 버킷을 봐야 합니다.
# 아래 셀은 이 노트북만 쓰는 `redis-server`를 127.0.0.1의 빈 포트에서 시작하고, 데이터는 메모리에만 둡니다.
# `redis-server`가 설치되어 있지 않으면 설치 방법을 출력하고, 뒤의 Redis 셀은 건너뜁니다.

# %% [markdown]
# To share the limit, every process has to see the same buckets.
# The cell below starts a `redis-server` for this notebook alone, on a free port of 127.0.0.1, with its data in memory only.
# If `redis-server` is not installed, it prints how to install it and the Redis cells below skip their work.

# %%
redis_server = start_if_installed()

# %% [markdown]
# ## 3. Redis로 한도 하나를 나눠 쓰기 · One shared limit through Redis

# %% [markdown]
# 이번에는 작업자마다 같은 Redis 키를 쓰는 `RedisRateLimiter(600, ...)`를 줍니다.
# 요청 하나를 받아들일지는 Redis 서버 안에서 도는 Lua 스크립트 하나가 정하고, 그동안 다른 클라이언트는 끼어들 수 없습니다.
# 같은 작업을 다시 돌려 표를 비교하세요.

# %% [markdown]
# This time every worker gets a `RedisRateLimiter(600, ...)` on the same Redis key.
# One Lua script that runs inside the Redis server decides whether to admit each request, and no other client can step in while it runs.
# Run the same job again and compare the tables.

# %%
if redis_server is not None:
    shared = workload.shared_limiter(redis_server.url, RPM, None, model=session.model)
    shared_run = workload.run_workers(
        workload.make_plans(session.base_url, session.model, limiter_factory=shared, **job),
        label="redis", requests_per_minute=RPM, burst_seconds=1.0, server=session.server,
    )
    display(lesson.table([local_run.row(), shared_run.row()]))

# %% [markdown]
# Redis를 쓰면 호출 수가 요청 수와 거의 같고 429는 거의 없습니다.
# 걸린 시간과 효율(efficiency, 한도에서 가능한 가장 짧은 시간 ÷ 실제 시간)은 두 방식이 비슷합니다: 어느 쪽이든 서버가 초당 10건만 받기 때문입니다.
# 달라진 것은 헛된 호출이 사라졌다는 점입니다.

# %% [markdown]
# With Redis the calls are about as many as the requests, and 429s are rare or absent.
# The elapsed time and the efficiency (the shortest possible time at the limit divided by the actual time) are about the same either way, because the server accepts 10 requests per second in both runs.
# What changed is that the wasted calls are gone.

# %%
if redis_server is not None:
    plots.plot_timeline(shared_run.timeline, limit_per_second=RPM / 60, title=plots.label("Redis로 나눠 쓰는 한도", "One limit shared through Redis"));

# %% [markdown]
# 초록 막대가 점선에 붙어 있고 빨간 막대가 없습니다.
# 첫 1초의 막대가 점선보다 높은 것은 버스트 때문입니다: 처음에는 버킷이 가득 차 있어서 1초 분량을 한꺼번에 쓸 수 있습니다.

# %% [markdown]
# The green bars sit on the dashed line and there are no red bars.
# The first second rises above the line because of the burst: the bucket starts full, so one second's worth can go at once.

# %% [markdown]
# ## 4. 공유 제한기의 동작 · How the shared limiter works

# %% [markdown]
# Lua 스크립트는 요청 버킷과 토큰 버킷을 한 번에 확인하고, 둘 다 허락하면 둘 다 차감합니다.
# 시간은 각 프로세스의 시계가 아니라 Redis 서버의 시계(`TIME`)로 재므로, 컴퓨터마다 시계가 조금씩 달라도 괜찮습니다.
# 기다려야 하는 요청은 그 자리에서 차감하고 기다릴 시간을 돌려받습니다: 자리를 예약하는 셈이라서, 큰 요청이 작은 요청들에 밀려 영영 기다리는 일이 없습니다.
# 아래 셀은 새 키에 요청 14건을 잇달아 청하고, 8번째부터 각 요청이 받은 대기 시간을 보여 줍니다.

# %% [markdown]
# The Lua script checks the request bucket and the token bucket together, and charges both only when both allow the request.
# Time comes from the Redis server's clock (`TIME`), not from each process's clock, so machines whose clocks disagree a little still share correctly.
# A request that has to wait is charged at once and receives its wait: it books its place, so a large request is never starved by a stream of small ones.
# The cell below asks for 14 requests in a row on a new key and shows the wait given to each one from the 8th on.

# %%
if redis_server is not None:
    demo = RedisRateLimiter(RPM, None, redis_url=redis_server.url, organization="org-demo", model=session.model)
    decisions = [demo.decide() for _ in range(14)]
    display(lesson.table([{"call": n, "granted": d.granted, "wait (ms)": round(d.wait_seconds * 1000)} for n, d in enumerate(decisions)][7:]))
    print(f"key: {demo.key}, margin_seconds: {demo.margin_seconds}")
    demo.reset()
    demo.close()

# %% [markdown]
# 처음 9건은 기다림 없이 통과하고, 10번째부터는 0.1초(초당 10건의 간격)씩 늘어나는 대기 시간을 받습니다.
# 10번째가 조금 기다리는 것은 위에 출력된 여유(`margin_seconds`) 때문입니다: 버킷이 가득 차 있지 않으면, 그만큼 전에 이미 있던 양만 내줍니다.
# 그러면 요청이 서버에 닿는 시간이 조금씩 달라도 서버의 버킷은 이미 채워져 있습니다.
# 키 이름에는 조직, 프로젝트, 모델이 들어가므로, 조직이나 모델이 다르면 한도를 나눠 쓰지 않습니다.
# 키는 버킷이 다시 가득 차고 1분이 지나면 저절로 사라집니다.

# %% [markdown]
# The first 9 pass without waiting, and from the 10th on the waits grow by 0.1 s (the spacing of 10 requests per second).
# The 10th waits a little because of the margin printed above (`margin_seconds`): a bucket that is not full gives only what it already held that long ago.
# Then requests that reach the server a little sooner than the ones before still find its bucket refilled.
# The key name contains the organization, project and model, so different organizations or models never share a budget.
# The key expires by itself a minute after the buckets are full again.

# %% [markdown]
# ## 5. Redis가 멈추면 · When Redis is down

# %% [markdown]
# Redis에 닿을 수 없으면 제한기는 주소(비밀번호는 가림)와 고칠 방법을 담은 오류를 냅니다.
# 아래 셀은 아무것도 듣고 있지 않은 포트를 가리켜 그 메시지를 보여 줍니다.

# %% [markdown]
# When Redis cannot be reached, the limiter raises an error that names the address (with any password hidden) and the fix.
# The cell below points at a port where nothing listens, to show the message.

# %%
unreachable = RedisRateLimiter(RPM, None, redis_url="redis://:secret@127.0.0.1:1/0")
try:
    unreachable.acquire()
except SharedLimiterUnavailableError as error:
    print(error)

# %% [markdown]
# `fallback_to_local=True`를 주면 오류 대신 경고를 한 번 내고, 그 프로세스 안에서만 세는 로컬 제한기로 계속합니다.
# 작업은 멈추지 않지만, 1절처럼 프로세스들이 합쳐서 한도를 넘을 수 있습니다.

# %% [markdown]
# With `fallback_to_local=True` the limiter warns once instead and carries on with a local limiter that counts only its own process.
# The job keeps going, but as in section 1 the processes together may exceed the limit.

# %%
fallback = RedisRateLimiter(RPM, None, redis_url="redis://127.0.0.1:1/0", fallback_to_local=True)
fallback.acquire()
print(fallback.is_local)

# %% [markdown]
# 마지막으로 이 노트북이 시작한 `redis-server`와 모의 서버를 멈춥니다.

# %% [markdown]
# Finally, stop the `redis-server` this notebook started, and the mock server.

# %%
if redis_server is not None:
    redis_server.stop()
session.close()

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 한도를 나눠 쓰는 모든 프로세스는 같은 Redis, 같은 `organization`/`project`/`model`, 같은 한도를 써야 합니다.
#   하나라도 다르면 다른 키나 다른 버킷을 쓰게 됩니다.
# - 공유 제한기를 쓰지 않는 클라이언트가 같은 한도를 쓰면, 제한기는 응답 헤더의 `x-ratelimit-*`로만 그 사용량을 알아챕니다.
#   모든 응답의 헤더를 `observe`에 넘기세요.
# - 헤더에서 배운 한도는 그 헤더를 본 프로세스만 씁니다.
#   프로세스마다 자기 응답을 `observe`에 넘기세요.
# - `acquire`마다 Redis를 한 번 다녀옵니다.
#   같은 컴퓨터에서는 중앙값이 1밀리초보다 짧지만(`benchmarks/shared.py`로 잰 값), 네트워크 너머의 Redis라면 그 지연 시간(latency)이 요청마다 더해집니다.
# - 순서는 예약이 Redis에 닿은 순서입니다.
#   예약하고 기다리던 프로세스가 죽으면 그 자리는 쓰이지 않고 지나갑니다.
#   한도를 넘지는 않지만 그만큼 처리량이 줄어듭니다.
# - asyncio에서는 이벤트 루프가 끝나기 전에 `await limiter.aclose()`를 부르세요.
#   그러지 않으면 redis-py가 닫히지 않은 연결을 경고합니다.
# - `fallback_to_local=True`는 Redis 장애 동안 작업을 살리지만 한도를 지켜 주지는 않습니다.
#   한 번 로컬로 넘어간 제한기는 Redis로 돌아가지 않습니다.

# %% [markdown]
# - Every process that shares a limit must use the same Redis, the same `organization`/`project`/`model` and the same limits.
#   Any difference gives it another key or another bucket.
# - A client that spends the same limit without the shared limiter is noticed only through the `x-ratelimit-*` response headers.
#   Pass every response's headers to `observe`.
# - A limit learned from headers is used only by the process that saw the headers.
#   Pass each process's own responses to `observe`.
# - Every `acquire` makes one round trip to Redis.
#   On the same machine the median is under a millisecond (measured with `benchmarks/shared.py`), but a Redis across the network adds its latency to every request.
# - Requests go in the order their bookings reach Redis.
#   When a process dies while it waits for its booked turn, that turn passes unused.
#   The limit still holds, but throughput drops by that much.
# - In asyncio, call `await limiter.aclose()` before the event loop ends, or redis-py warns about unclosed connections.
# - `fallback_to_local=True` keeps a job running while Redis is down, but it does not keep the limit.
#   A limiter that fell back stays local and does not return to Redis.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - OpenAI 속도 제한 안내서: 한도가 어떻게 세어지고 헤더로 알려지는지 <https://platform.openai.com/docs/guides/rate-limits>
# - Redis의 `EVAL` 명령: 스크립트가 원자적으로 실행되는 방식 <https://redis.io/commands/eval>
# - Redis의 NOSCRIPT 오류와 redis-py `register_script`가 스크립트를 다시 싣는 방식 <https://redis.io/docs/latest/develop/reference/errors/common/noscript/>
# - `benchmarks/shared.py`: 프로세스 2, 4, 8개에서 로컬 제한기와 Redis 제한기를 비교하는 측정 스크립트
# - 이전 노트북 `07_parallel_processor`: 한 프로세스 안에서 요청을 동시에 보내기

# %% [markdown]
# - OpenAI's rate-limit guide: how limits are counted and reported in headers <https://platform.openai.com/docs/guides/rate-limits>
# - Redis's `EVAL` command: how scripts run atomically <https://redis.io/commands/eval>
# - Redis's NOSCRIPT error, and how the script object of redis-py's `register_script` loads the script again <https://redis.io/docs/latest/develop/reference/errors/common/noscript/>
# - `benchmarks/shared.py`: measures local limiters against the Redis limiter with 2, 4 and 8 processes
# - The previous notebook, `07_parallel_processor`: sending requests concurrently within one process
