# %% [markdown]
# # 04. 직접 쓴 재시도 · Retrying by hand

# %% [markdown]
# 라이브러리 없이도 재시도(retry)는 짧은 반복문 하나면 됩니다.
# 이 노트북은 `retry.retry_with_exponential_backoff`를 봅니다: 널리 퍼진 예제와 같은 호출 형태(`initial_delay`, `exponential_base`, `jitter`, `max_retries`, `errors`)에 `max_delay`를 더한 데코레이터입니다.
# 그리고 흔히 보는 단순한 구현을 직접 만들어, 할당량 부족(`insufficient_quota`)과 계속 실패하는 호출에서 두 구현이 어떻게 다르게 움직이는지 비교합니다.

# %% [markdown]
# Retrying needs no library: one short loop does it.
# This notebook looks at `retry.retry_with_exponential_backoff`, a decorator with the call form of a widely copied example (`initial_delay`, `exponential_base`, `jitter`, `max_retries`, `errors`) plus `max_delay`.
# It then builds a common naive version and compares how the two behave on an exhausted quota (`insufficient_quota`) and on a call that keeps failing.

# %% [markdown]
# 준비 셀은 02, 03번과 같은 한도(분당 요청 수 120, 버스트 1초)로 모의 서버(mock server)를 시작합니다.

# %% [markdown]
# The set-up cell starts the mock server with the limits of notebooks 02 and 03 (120 requests per minute, a burst of 1 second).

# %%
import inspect
import logging
import random
import time

import matplotlib.pyplot as plt
import openai

from ratelimit_toolkit import lesson, plots, retry
from ratelimit_toolkit.durations import format_duration
from ratelimit_toolkit.recording import Recorder
from ratelimit_toolkit.retry import RetryPolicy, handwritten

logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
session = lesson.start(rpm=120, tpm=150_000, burst_seconds=1.0)
client = session.client()
# Our decorator draws jitter from `rng`; the naive version in section 5 draws from the global `random` module.
# Seeding both makes the waits, tables and plots the same on every run.
rng = random.Random(11)
random.seed(11)

# %% [markdown]
# ## 1. 한 화면짜리 반복문 · The loop on one screen

# %% [markdown]
# 아래 셀은 이 전략의 알고리즘 전체인 `retry_loop`의 실제 소스를 출력합니다.
# 호출하고, 실패하면 `run.decide()`에게 기다릴 시간을 묻고, 기다렸다가 다시 호출합니다.
# `decide()`는 오류를 `errors.classify`로 분류해서, 기다려도 소용없는 오류이거나 시도를 다 썼거나 시간 예산을 넘기면 None을 돌려줍니다.
# 그때 `raise`는 원래 오류를 그대로 다시 올립니다.

# %% [markdown]
# The cell below prints the actual source of `retry_loop`, the whole algorithm of this strategy.
# It calls, gets the wait after a failure from `run.decide()`, waits, and calls again.
# `decide()` classifies the error with `errors.classify` and returns None when no wait can fix the error, the attempts are used up, or the time budget would run out.
# The `raise` then re-raises the original error unchanged.

# %%
print(inspect.getsource(handwritten.retry_loop))

# %% [markdown]
# 기다릴 시간은 세 전략이 함께 쓰는 `RetryPolicy.wait_seconds`가 계산합니다.
# 백오프에 상한을 씌우고, 지터는 0과 백오프 사이에서 뽑고, 서버가 제안한 대기 시간을 바닥으로 삼은 뒤 다시 상한을 씌웁니다.

# %% [markdown]
# The wait comes from `RetryPolicy.wait_seconds`, which all three strategies share.
# It caps the backoff, draws the jitter between 0 and the backoff, uses the server's suggested wait as the floor, and caps the result again.

# %%
print(inspect.getsource(RetryPolicy.wait_seconds))

# %% [markdown]
# 지터를 더한 뒤에도 `min(self.max_wait, ...)`가 마지막에 있으므로, 어떤 대기도 `max_wait`를 넘지 못합니다.

# %% [markdown]
# Because `min(self.max_wait, ...)` comes last, after the jitter, no wait can pass `max_wait`.

# %% [markdown]
# ## 2. 익숙한 호출 형태 · The familiar call form

# %% [markdown]
# 데코레이터는 널리 쓰이는 예제처럼 씁니다.
# `max_retries`는 재시도 횟수이므로 시도는 최대 `max_retries + 1`번이고, `max_delay`는 대기 하나의 상한입니다.
# 아래 셀은 다음 두 요청을 429로 예약하고 한 번 호출한 뒤, 시도마다 기록된 내용을 표로 보여 줍니다.

# %% [markdown]
# The decorator is used like the widely copied example.
# `max_retries` counts retries, so there are at most `max_retries + 1` attempts, and `max_delay` caps each wait.
# The cell below schedules 429s for the next two requests, makes one call, and shows what was recorded for each attempt.

# %%
recorder = Recorder()


@retry.retry_with_exponential_backoff(initial_delay=0.5, max_delay=2.0, max_retries=29, recorder=recorder, rng=rng)
def completion_with_backoff(**kwargs):
    return client.chat.completions.create(**kwargs)


session.server.enqueue_responses([429, 429, 200])
reply = completion_with_backoff(model=session.model, messages=[{"role": "user", "content": "재시도를 한 문장으로 설명해 주세요."}], max_tokens=40)
lesson.table([{"attempt": a.number, "outcome": a.outcome, "status": a.status, "code": a.code, "wait_s": a.wait_seconds} for a in recorder.attempts()])

# %% [markdown]
# 429 두 번 뒤 세 번째 시도에서 성공했습니다.
# 서버가 제안한 0.5초가 바닥이므로 두 대기 모두 0.5초 이상이고, 상한 2초 이하입니다.
# `functools.wraps` 덕분에 감싼 함수의 이름과 문서도 그대로입니다: `completion_with_backoff.__name__`은 `completion_with_backoff`입니다.

# %% [markdown]
# After two 429s the third attempt succeeded.
# The server's suggestion of 0.5 seconds is the floor, so both waits are at least 0.5 seconds and at most the 2-second cap.
# Thanks to `functools.wraps` the wrapped function keeps its name and docstring: `completion_with_backoff.__name__` is `completion_with_backoff`.

# %% [markdown]
# ## 3. 빡빡한 한도에 요청 20건 · Twenty requests under a tight limit

# %% [markdown]
# 02번 노트북처럼 스레드 20개가 같은 순간에 요청을 보냅니다.
# 표에서 포기(`gave_up`)가 0인지 보세요.

# %% [markdown]
# As in notebook 02, 20 threads each send a request at the same instant.
# Check in the table that `gave_up` is 0.

# %%
def send_twenty(decorated, recorder):
    """Send 20 requests at once from 20 threads, after the server's bucket has refilled."""
    time.sleep(1.0)  # the bucket's capacity is 2 requests and it refills 2 per second
    recorder.clear()  # the timeline starts at 0 s with the first request
    question = [{"role": "user", "content": "속도 제한을 한 문장으로 설명해 주세요."}]
    return retry.call_simultaneously(lambda index: decorated(model=session.model, messages=question, max_tokens=20), 20)


jittered = send_twenty(completion_with_backoff, recorder)
lesson.table([retry.summary_row("full jitter", recorder, jittered)])

# %% [markdown]
# 20건이 모두 성공했고, 한도가 허락하는 속도(초당 2건)에 가까운 약 10초가 걸렸습니다.
# 아래 그래프는 요청별 재시도 횟수와 대기 시간 분포입니다.

# %% [markdown]
# All 20 requests succeeded, in about 10 seconds, close to the rate the limit allows (2 per second).
# The plots below show the retries per request and the distribution of the waits.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
plots.plot_retries_per_request(recorder, ax=left)
plots.plot_wait_distribution(recorder, ax=right);

# %% [markdown]
# 재시도 횟수는 요청마다 다르고, 대기 시간은 상한 2초 아래에 퍼져 있습니다.

# %% [markdown]
# The number of retries differs from request to request, and the waits spread below the 2-second cap.

# %% [markdown]
# ## 4. 지터를 끄면 · With jitter off

# %% [markdown]
# `jitter=False`로 같은 실험을 합니다.
# `peak_retries_per_250ms`(0.25초 안에 시작된 재시도의 최댓값)와 `wall_s`를 비교하세요.

# %% [markdown]
# Run the same experiment with `jitter=False`.
# Compare `peak_retries_per_250ms` (the most retries started within 0.25 seconds) and `wall_s`.

# %%
lockstep_recorder = Recorder()
lockstep = retry.retry_with_exponential_backoff(
    client.chat.completions.create, initial_delay=0.5, max_delay=2.0, max_retries=29, jitter=False, recorder=lockstep_recorder
)
lockstep_run = send_twenty(lockstep, lockstep_recorder)
lesson.table([retry.summary_row("no jitter", lockstep_recorder, lockstep_run), retry.summary_row("full jitter", recorder, jittered)])

# %% [markdown]
# 지터가 없으면 재시도가 한순간에 몰리고, 전체 시간이 길어집니다.
# 아래 타임라인에서 왼쪽의 세로줄(같은 순간의 재시도)과 오른쪽의 흩어진 시도를 비교하세요.

# %% [markdown]
# Without jitter the retries pile up at the same moments, and the whole run takes longer.
# In the timelines below, compare the vertical columns on the left (retries at the same moment) with the scattered attempts on the right.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained", sharex=True)
plots.plot_attempt_timeline(lockstep_recorder, ax=left, title=plots.label("지터 없음", "No jitter"))
plots.plot_attempt_timeline(recorder, ax=right, title=plots.label("완전 지터", "Full jitter"));

# %% [markdown]
# 지터가 없는 쪽은 같은 순간에 실패한 요청들이 같은 시각에 다시 몰려옵니다.
# 지터가 있는 쪽은 재시도가 흩어져서, 버킷이 채워지는 대로 하나씩 들어갑니다.

# %% [markdown]
# Without jitter, requests that failed at the same moment come back at the same moment.
# With jitter the retries are scattered, so they get in one by one as the bucket refills.

# %% [markdown]
# ## 5. 단순한 구현과 비교 · Compared with a naive version

# %% [markdown]
# 아래 셀은 흔히 복사되는 단순한 재시도를, 그 결함을 그대로 살려 직접 씁니다.
# 대기에 상한이 없고, 불리언 `jitter`를 숫자처럼 곱해서 대기가 매번 2~4배로 불어나며, 첫 대기부터 2~4초입니다.
# `RateLimitError`라면 할당량 부족까지 모두 재시도하고, 서버가 제안한 대기 시간은 읽지 않으며, 마지막에는 그냥 `Exception`을 올립니다.
# 데모가 몇 시간씩 걸리지 않도록 두 구현 모두 실제로 잠들지 않고 대기 시간만 기록합니다(`sleep=`).

# %% [markdown]
# The cell below writes a commonly copied naive retry, keeping its faults on purpose.
# Its wait has no cap, it multiplies by the boolean `jitter` as if it were a number so the wait grows 2 to 4 times each round, and the first wait is already 2 to 4 seconds.
# It retries every `RateLimitError`, an exhausted quota included, never reads the server's suggested wait, and raises a plain `Exception` at the end.
# So that the demo does not take hours, both versions record their waits instead of sleeping (`sleep=`).

# %%
def naive_backoff(func, initial_delay=1, exponential_base=2, jitter=True, max_retries=10, errors=(openai.RateLimitError,), sleep=time.sleep):
    """A deliberately naive retry decorator, for comparison only: every fault described above is kept."""

    def wrapper(*args, **kwargs):
        delay = initial_delay
        for retry_number in range(max_retries + 1):
            try:
                return func(*args, **kwargs)
            except errors:
                if retry_number == max_retries:
                    raise Exception(f"gave up after {max_retries} retries")
                delay = delay * exponential_base * (1 + jitter * random.random())
                sleep(delay)

    return wrapper


def compare_on(answer):
    """Call the naive decorator and ours against a server that returns `answer`; return one table row for each."""
    rows = []
    for name, decorate in [("naive", naive_backoff), ("ours", retry.retry_with_exponential_backoff)]:
        waits = []
        session.reset_stats()
        session.server.enqueue_responses([answer] * 11)
        try:
            decorate(client.chat.completions.create, sleep=waits.append)(model=session.model, messages=[{"role": "user", "content": "안녕하세요"}], max_tokens=20)
        except Exception as error:
            rows.append({"version": name, "HTTP requests": session.stats()["totals"]["requests"], "total wait chosen": format_duration(sum(waits)), "raised": type(error).__name__, "code": getattr(error, "code", "-")})
        session.server.clear_responses()
    return rows


quota = {"status": 429, "body": {"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}}
lesson.table(compare_on(quota))

# %% [markdown]
# 할당량 부족에서 단순한 구현은 기다려도 소용없는 결제 오류를 11번 요청하고, 모두 합쳐 하루가 넘는 대기를 고른 끝에, 원인을 알 수 없는 `Exception`을 올립니다.
# 호출하는 쪽은 `except openai.RateLimitError`로 잡을 수도, `code`를 읽을 수도 없습니다.
# 우리 데코레이터는 요청 한 번 만에 대기 없이 원래의 `RateLimitError`를 `code`와 함께 올립니다.

# %% [markdown]
# On an exhausted quota the naive version sends 11 requests for a billing error no wait can fix, chooses more than a day of waiting in all, and then raises an `Exception` that hides the cause.
# The caller can neither catch it with `except openai.RateLimitError` nor read its `code`.
# Our decorator raises the original `RateLimitError`, with its `code`, after one request and no wait.

# %% [markdown]
# 이번에는 계속 429를 받는 호출에서 재시도마다 고른 대기 시간을 나란히 봅니다.
# 단순한 구현의 대기가 어디까지 커지는지, 우리 데코레이터의 대기가 `max_delay`(기본 60초)에서 멈추는지 보세요.

# %% [markdown]
# Now compare the wait each version chose before every retry, on a call that keeps getting 429s.
# See how far the naive version's waits grow, and whether ours stop at `max_delay` (60 seconds by default).

# %%
def waits_on_endless_429s(decorate):
    """Record the waits chosen before each of 10 retries against a server that always returns 429."""
    waits = []
    session.server.enqueue_responses([429] * 11)
    try:
        decorate(client.chat.completions.create, sleep=waits.append)(model=session.model, messages=[{"role": "user", "content": "안녕하세요"}], max_tokens=20)
    except Exception:
        pass
    session.server.clear_responses()
    return waits


naive_waits = waits_on_endless_429s(naive_backoff)
our_waits = waits_on_endless_429s(lambda func, sleep: retry.retry_with_exponential_backoff(func, sleep=sleep, rng=rng))
lesson.table([{"retry": n, "naive wait": format_duration(naive), "our wait": format_duration(ours)} for n, (naive, ours) in enumerate(zip(naive_waits, our_waits), start=1)])

# %% [markdown]
# 단순한 구현의 대기는 재시도마다 2~4배로 불어나서, 열 번째에는 몇 시간에서 며칠이 됩니다.
# 그동안 프로그램은 아무 말 없이 멈춰 있는 것처럼 보입니다.
# 우리 데코레이터의 첫 대기는 서버가 제안한 0.5초와 지터를 더해 1.5초 이하이고, 이후로도 60초를 넘지 않습니다.

# %% [markdown]
# The naive version's wait grows 2 to 4 times with each retry, reaching hours or days by the tenth.
# All that time the program looks silently stuck.
# Our decorator's first wait is the server's suggested 0.5 seconds plus jitter, at most 1.5 seconds, and no later wait passes 60 seconds.

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 마지막에 `Exception`을 새로 만들어 올리면 호출하는 쪽이 원래 오류의 종류와 `code`를 잃습니다.
#   원래 오류를 `raise`로 다시 올리세요.
# - 대기에는 반드시 상한을 두세요.
#   상한이 없으면 열 번째 재시도의 대기가 몇 시간에서 며칠이 됩니다.
# - 불리언 `jitter`를 곱셈에 쓰면 대기가 무작위로 커질 뿐, 흩어지지 않습니다.
#   지터는 0과 백오프 사이에서 뽑아야 상한을 넘지 않습니다.
# - 모든 `RateLimitError`를 재시도하면 할당량 부족(`insufficient_quota`)까지 재시도합니다.
#   `code`를 보고 바로 포기하세요.
# - `max_retries`는 재시도 횟수라서 시도는 `max_retries + 1`번입니다.
# - 데코레이터 안에서 `functools.wraps`를 쓰지 않으면 감싼 함수의 이름과 문서가 사라집니다.
# - `async def` 함수에 쓰는 재시도는 `time.sleep` 대신 `asyncio.sleep`으로 기다려야 합니다.
#   `retry_with_exponential_backoff`는 `async` 함수를 알아보고 그렇게 합니다.

# %% [markdown]
# - Raising a new `Exception` at the end makes the caller lose the original error's class and `code`.
#   Re-raise the original error with `raise`.
# - Always cap the wait.
#   Without a cap, the wait before the tenth retry is hours to days.
# - Multiplying by a boolean `jitter` only makes the wait grow at random; it does not spread it.
#   Draw the jitter between 0 and the backoff so it never passes the cap.
# - Retrying every `RateLimitError` retries an exhausted quota (`insufficient_quota`) too.
#   Check `code` and give up at once.
# - `max_retries` counts retries, so there are `max_retries + 1` attempts.
# - Without `functools.wraps` inside the decorator, the wrapped function loses its name and docstring.
# - Retries around an `async def` function must wait with `asyncio.sleep`, not `time.sleep`.
#   `retry_with_exponential_backoff` recognises `async` functions and does so.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - OpenAI Cookbook의 속도 제한 다루기: 이 호출 형태가 처음 소개된 곳 <https://cookbook.openai.com/examples/how_to_handle_rate_limits>
# - Python 문서, `functools.wraps` <https://docs.python.org/3/library/functools.html#functools.wraps>
# - Python 문서, 예외 연결(`raise ... from`) <https://docs.python.org/3/reference/simple_stmts.html#the-raise-statement>
# - 다음 노트북 `05_proactive_throttling`: 429를 기다리지 않고 미리 속도 조절하기

# %% [markdown]
# - The OpenAI Cookbook on handling rate limits, where this call form was introduced <https://cookbook.openai.com/examples/how_to_handle_rate_limits>
# - The Python documentation on `functools.wraps` <https://docs.python.org/3/library/functools.html#functools.wraps>
# - The Python documentation on exception chaining (`raise ... from`) <https://docs.python.org/3/reference/simple_stmts.html#the-raise-statement>
# - Next notebook, `05_proactive_throttling`: pacing requests in advance instead of waiting for 429s
