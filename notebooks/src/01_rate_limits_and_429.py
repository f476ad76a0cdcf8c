# %% [markdown]
# # 01. 속도 제한과 429 오류 · Rate limits and the 429 error

# %% [markdown]
# 이 노트북은 OpenAI API의 속도 제한(rate limit)이 무엇이고 왜 있는지, 그리고 한도를 넘으면 어떤 오류가 돌아오는지 보여 줍니다.
# 모든 요청은 이 컴퓨터 안에서 돌아가는 모의 서버(mock server)로 가므로, API 키도 비용도 필요 없습니다.
# 모의 서버는 OpenAI와 같은 형태의 429 응답과 응답 헤더(response headers)를 돌려줍니다.

# %% [markdown]
# This notebook shows what the OpenAI API's rate limits are, why they exist, and which error comes back when you exceed them.
# Every request goes to a mock server running on this computer, so you need neither an API key nor a budget.
# The mock server returns 429 responses and response headers shaped like OpenAI's.

# %% [markdown]
# 아래 준비 셀은 모의 서버를 시작하고, 그래프용 한글 글꼴을 설정하고, 클라이언트를 만듭니다.
# 한도는 429가 몇 초 안에 나타나도록 일부러 작게 잡았습니다: 분당 요청 수 60, 분당 토큰 수 6,000, 버스트(burst) 1초.
# 버스트 1초는 분당 한도를 초 단위로 나눠 적용한다는 뜻이므로, 초당 요청 1건과 초당 토큰 100개가 됩니다.
# 출력된 한 줄에서 서버 주소와 한도를 확인하세요.

# %% [markdown]
# The set-up cell below starts the mock server, sets up a Korean font for plots and creates a client.
# The limits are deliberately small so that 429s appear within seconds: 60 requests per minute, 6,000 tokens per minute, and a burst of 1 second.
# A burst of 1 second means the per-minute limits are enforced per second, which gives 1 request and 100 tokens per second.
# Check the server address and the limits in the printed line.

# %%
import random
import time

import openai

from ratelimit_toolkit import lesson, plots, tokens

# The openai client draws its retry jitter from this generator; a seed makes section 3's retry demo repeatable.
random.seed(0)
print(f"openai {openai.__version__}")
session = lesson.start(rpm=60, tpm=6_000, burst_seconds=1.0)
client = session.client()

# %% [markdown]
# `session.client()`는 `max_retries=0`인 `openai.OpenAI` 클라이언트를 돌려줍니다.
# 왜 재시도(retry)를 끄는지는 3절에서 설명합니다.

# %% [markdown]
# `session.client()` returns an `openai.OpenAI` client with `max_retries=0`.
# Section 3 explains why retries are switched off.

# %% [markdown]
# ## 1. 속도 제한이 있는 이유 · Why rate limits exist

# %% [markdown]
# API 제공자는 세 가지 이유로 속도 제한을 둡니다.
# 첫째, 악용이나 과부하로부터 서비스를 보호합니다: 실수로든 고의로든 요청을 쏟아 내는 클라이언트가 서버를 멈추게 할 수 없습니다.
# 둘째, 공정한 접근을 보장합니다: 한 고객이 용량을 독차지하면 다른 고객의 요청이 느려지거나 실패합니다.
# 셋째, 전체 부하를 관리합니다: 제공자는 모든 고객의 요청을 합친 양이 서버가 감당할 수 있는 범위 안에 머물도록 계획할 수 있습니다.

# %% [markdown]
# API providers set rate limits for three reasons.
# First, they protect the service against abuse and overload: a client that floods the server, by mistake or on purpose, cannot bring it down.
# Second, they keep access fair: if one customer took all the capacity, other customers' requests would slow down or fail.
# Third, they manage the total load: the provider can plan for the sum of every customer's requests to stay within what the servers can handle.

# %% [markdown]
# ## 2. 분당 요청 수와 분당 토큰 수 · Requests and tokens per minute

# %% [markdown]
# OpenAI는 두 가지 한도를 따로 셉니다: 분당 요청 수(requests per minute, RPM)와 분당 토큰 수(tokens per minute, TPM).
# 요청 하나는 요청 한도에서 1을, 토큰 한도에서 프롬프트의 토큰 수와 `max_tokens`를 더한 값을 씁니다.
# 토큰은 서버가 요청을 받아들이는 순간에 계산되므로, 실제 답변이 짧아도 `max_tokens`만큼이 먼저 빠집니다.
# 두 한도 중 하나라도 먼저 바닥나면 429 오류가 돌아옵니다.

# %% [markdown]
# OpenAI counts two limits separately: requests per minute (RPM) and tokens per minute (TPM).
# One request uses 1 from the request limit, and from the token limit the prompt's tokens plus `max_tokens`.
# Tokens are charged when the server admits the request, so the full `max_tokens` is taken up front even when the actual answer is short.
# Whichever of the two limits runs out first, the answer is a 429 error.

# %% [markdown]
# 한도는 계정 등급과 모델에 따라 다르고, 시간이 지나면서 바뀝니다.
# 아래 표는 2023년 1월의 기본 한도로, 지금의 숫자가 아니라 역사 기록입니다.
#
# | 계정 | 텍스트 완성·임베딩 엔드포인트 | 코드·편집 엔드포인트 |
# | --- | --- | --- |
# | 무료 체험 | 분당 요청 수 20, 분당 토큰 수 150,000 | 분당 요청 수 20, 분당 토큰 수 150,000 |
# | 종량제, 처음 48시간 | 분당 요청 수 60, davinci 기준 분당 토큰 수 250,000 (더 저렴한 모델은 더 많음) | 분당 요청 수 20, 분당 토큰 수 150,000 |
# | 종량제, 48시간 이후 | 분당 요청 수 3,000, davinci 기준 분당 토큰 수 250,000 (더 저렴한 모델은 더 많음) | 분당 요청 수 20, 분당 토큰 수 150,000 |
#
# 지금 내 한도는 OpenAI 플랫폼 설정의 한도 페이지(Settings → Limits)에서 확인하세요.
# 모든 응답에 붙는 `x-ratelimit-*` 응답 헤더에도 한도와 남은 양이 들어 있으며, 3절에서 직접 읽어 봅니다.

# %% [markdown]
# Limits differ by account tier and by model, and they change over time.
# The table below shows the default limits of January 2023, as history rather than today's numbers.
#
# | Account | Text completion and embedding endpoints | Code and edit endpoints |
# | --- | --- | --- |
# | Free trial | 20 requests/min, 150,000 tokens/min | 20 requests/min, 150,000 tokens/min |
# | Pay-as-you-go, first 48 hours | 60 requests/min, 250,000 davinci tokens/min (more for cheaper models) | 20 requests/min, 150,000 tokens/min |
# | Pay-as-you-go, after 48 hours | 3,000 requests/min, 250,000 davinci tokens/min (more for cheaper models) | 20 requests/min, 150,000 tokens/min |
#
# Look up your current limits on the limits page of the OpenAI platform settings (Settings → Limits).
# The `x-ratelimit-*` response headers on every response also carry the limits and what remains of them; section 3 reads them.

# %% [markdown]
# 흔히 쓰는 어림셈은 토큰 1,000개가 영어 글 한 쪽쯤이라는 것입니다.
# 한국어는 같은 내용을 쓰는 데 토큰이 더 듭니다.
# 아래 셀은 같은 뜻의 영어 문장과 한국어 문장의 토큰 수를 두 모델의 인코딩으로 셉니다.
# `characters per token` 열을 보세요.

# %% [markdown]
# A common rule of thumb is that 1,000 tokens is about one page of English text.
# Korean needs more tokens to say the same thing.
# The cell below counts the tokens of an English and a Korean sentence with the same meaning, using the encodings of two models.
# Look at the `characters per token` column.

# %%
sentences = {
    "English": "Rate limits protect the service and share its capacity fairly among all customers.",
    "한국어": "속도 제한은 서비스를 보호하고, 처리 용량을 모든 고객에게 공정하게 나눕니다.",
}
rows = []
for language, text in sentences.items():
    for model in ("gpt-4o-mini", "gpt-3.5-turbo"):
        count = tokens.count_text_tokens(text, model)
        rows.append({"language": language, "model": model, "characters": len(text), "tokens": count, "characters per token": len(text) / count})
lesson.table(rows)

# %% [markdown]
# 영어 문장은 글자 82개가 토큰 14개로, 토큰 하나에 글자 약 6개가 들어갑니다.
# 한국어 문장은 글자가 43개로 더 짧은데도 gpt-4o-mini에서 토큰 23개, gpt-3.5-turbo의 옛 인코딩에서는 토큰 40개가 듭니다.
# 그러니 한국어 작업은 영어 기준 어림셈보다 분당 토큰 수를 빨리 씁니다: 토큰 수는 추측하지 말고 세어 보세요.

# %% [markdown]
# The English sentence has 82 characters in 14 tokens, about 6 characters per token.
# The Korean sentence is shorter at 43 characters, yet it takes 23 tokens with gpt-4o-mini and 40 tokens with the older encoding of gpt-3.5-turbo.
# Korean work therefore uses up the tokens-per-minute limit faster than the English rule of thumb suggests: count tokens instead of guessing.

# %% [markdown]
# ## 3. 429 오류의 모습 · What a 429 looks like

# %% [markdown]
# `openai` 클라이언트는 기본값으로 429를 받으면 스스로 두 번 재시도합니다.
# 0.5초쯤 기다렸다가 다시 보내고, 또 실패하면 대기를 두 배로 늘리며, 서버가 `retry-after` 헤더로 대기 시간을 알려 주면 그 값을 따릅니다.
# 그래서 기본 클라이언트에서 보는 오류는 이미 세 번 실패한 뒤의 오류입니다.
# 429를 직접 보려는 이 노트북과, 다음 노트북들처럼 재시도를 직접 구현하는 코드는 `max_retries=0`으로 이 동작을 끕니다.

# %% [markdown]
# By default the `openai` client retries a 429 twice on its own.
# It waits about 0.5 seconds before resending, doubles the wait after another failure, and follows the server's `retry-after` header when one is sent.
# An error you see from a default client has therefore already failed three times.
# This notebook, which wants to see the 429 itself, and code that does its own retries, as in the next notebooks, switch this off with `max_retries=0`.

# %% [markdown]
# 아래 셀은 0.1초 간격으로 요청 50건을 보냅니다: 한도인 초당 1건의 약 10배입니다.
# 성공과 429의 개수를 세고, 마지막 429 오류를 `last_error`에 남겨 둡니다.

# %% [markdown]
# The cell below sends 50 requests 0.1 seconds apart, about 10 times the limit of 1 per second.
# It counts successes and 429s, and keeps the last 429 error in `last_error`.

# %%
session.reset_stats()
outcomes = []
for number in range(50):
    try:
        client.chat.completions.create(model=session.model, messages=[{"role": "user", "content": f"질문 {number}"}], max_tokens=20)
        outcomes.append("ok")
    except openai.RateLimitError as error:
        outcomes.append("429")
        last_error = error
    time.sleep(0.1)
print(f"성공 {outcomes.count('ok')}건, 429 {outcomes.count('429')}건 / {outcomes.count('ok')} succeeded, {outcomes.count('429')} got 429")

# %% [markdown]
# 성공한 요청은 초당 1건꼴이고, 나머지는 모두 429로 거절되었습니다.
# 이제 그 오류 하나를 자세히 봅니다.
# 예외의 종류, HTTP 상태 코드, 본문의 `code`와 `type`을 확인하세요.

# %% [markdown]
# Roughly one request per second succeeded, and all the others were refused with 429.
# Now look at one of those errors closely.
# Check the exception class, the HTTP status code, and the `code` and `type` from the body.

# %%
lesson.table(
    [
        {"attribute": "class", "value": f"openai.{type(last_error).__name__}"},
        {"attribute": "status_code", "value": last_error.status_code},
        {"attribute": "code", "value": last_error.code},
        {"attribute": "type", "value": last_error.type},
    ]
)

# %% [markdown]
# 속도 제한 오류는 `openai.RateLimitError`이고, 상태 코드는 429, `code`는 `rate_limit_exceeded`입니다.
# `type`의 `requests`는 분당 요청 수 한도에 걸렸다는 뜻입니다.
# 메시지에는 모델, 조직, 한도, 지금까지 쓴 양, 그리고 언제 다시 시도하면 되는지가 들어 있습니다.

# %% [markdown]
# A rate-limit error is an `openai.RateLimitError` with status code 429 and `code` `rate_limit_exceeded`.
# A `type` of `requests` means the requests-per-minute limit was hit.
# The message names the model, the organisation, the limit, the usage so far, and when to try again.

# %%
print(last_error.body["message"])

# %% [markdown]
# 같은 정보가 `x-ratelimit-*` 응답 헤더에도 있습니다.
# `limit`은 분당 한도, `remaining`은 지금 남은 양, `reset`은 다 찰 때까지 걸리는 시간입니다.

# %% [markdown]
# The same information is in the `x-ratelimit-*` response headers.
# `limit` is the per-minute limit, `remaining` is what is left now, and `reset` is the time until it is full again.

# %%
lesson.headers_table(last_error)

# %% [markdown]
# 남은 요청 수가 0이고, 요청 한도가 다시 차기까지 1초가 채 안 남았습니다.
# 토큰은 넉넉히 남았으므로, 이번 429의 원인은 요청 수뿐입니다.
# 이 헤더는 성공한 응답에도 붙으므로, 한도에 닿기 전에 속도를 늦추는 데 쓸 수 있습니다.

# %% [markdown]
# No requests remain, and the request limit will be full again in under a second.
# Plenty of tokens remain, so the requests limit alone caused this 429.
# Successful responses carry these headers too, so a client can slow down before it reaches the limit.

# %% [markdown]
# 모의 서버는 초마다 받아들인 요청과 거절한 요청을 기록합니다.
# 아래 그래프에서 초록 막대(성공)가 점선(초당 한도) 근처에 머무는지 보세요.

# %% [markdown]
# The mock server records the requests it admitted and refused in each second.
# In the plot below, check whether the green bars (admitted) stay near the dashed line (the limit per second).

# %%
plots.plot_timeline(session.stats(), limit_per_second=session.limit_per_second);

# %% [markdown]
# 요청을 얼마나 빨리 보내든 성공은 초당 1건 근처에서 멈추고, 나머지(빨간 막대)는 모두 거절됩니다.
# 더 많이 보낸다고 처리량(throughput)이 늘지 않습니다: 늘어나는 것은 429뿐입니다.

# %% [markdown]
# However fast the requests go out, successes stop at about 1 per second and the rest (red bars) are refused.
# Sending more does not raise throughput; only the number of 429s grows.

# %% [markdown]
# 토큰 한도도 따로 작동합니다.
# 아래 셀은 `max_tokens=500`인 요청 하나로 초당 토큰 100개짜리 토큰 한도를 미리 당겨 쓰고, 요청 한도가 다시 차도록 1.1초 기다린 뒤 작은 요청을 보냅니다.
# 이번 429의 `type`을 보세요.

# %% [markdown]
# The token limit works on its own, too.
# The cell below spends the token limit of 100 tokens per second in advance with one request of `max_tokens=500`, waits 1.1 seconds for the request limit to refill, and then sends a small request.
# Look at the `type` of this 429.

# %%
time.sleep(1.1)
client.chat.completions.create(model=session.model, messages=[{"role": "user", "content": "긴 답변을 써 주세요"}], max_tokens=500)
time.sleep(1.1)
try:
    client.chat.completions.create(model=session.model, messages=[{"role": "user", "content": "짧게"}], max_tokens=20)
except openai.RateLimitError as error:
    token_error = error
print(f"type={token_error.type}, code={token_error.code}")
print(token_error.body["message"])

# %% [markdown]
# 요청 한도에는 여유가 있었지만 토큰 한도가 바닥나서, `type`이 `tokens`인 429가 돌아왔습니다.
# 두 한도를 따로 세므로, 어느 쪽에 걸렸는지는 `type`과 메시지의 `RPM`/`TPM`으로 구분합니다.

# %% [markdown]
# The request limit had room, but the token limit was used up, so the 429 came back with `type` `tokens`.
# Because the two limits are counted separately, `type` and the `RPM`/`TPM` in the message tell which one was hit.

# %% [markdown]
# 이제 기본 클라이언트(`max_retries=2`)가 같은 상황에서 어떻게 하는지 봅니다.
# 요청 두 건을 연달아 보내고, 서버가 실제로 받은 HTTP 요청 수를 셉니다.

# %% [markdown]
# Now see what a default client (`max_retries=2`) does in the same situation.
# It sends two requests back to back, and the server counts the HTTP requests it actually received.

# %%
time.sleep(5)  # let the token limit recover from the previous cell
session.reset_stats()
default_client = session.client(max_retries=2)
for number in range(2):
    default_client.chat.completions.create(model=session.model, messages=[{"role": "user", "content": f"안녕하세요 {number}"}], max_tokens=20)
totals = session.stats()["totals"]
print(f"호출 2번, HTTP 요청 {totals['requests']}건, 그중 429 {totals['refused_429']['total']}건 / 2 calls, {totals['requests']} HTTP requests, {totals['refused_429']['total']} of them 429")

# %% [markdown]
# 두 호출 모두 오류 없이 끝났지만, 서버는 429를 보내고 재시도를 받았습니다.
# 기본 클라이언트는 이렇게 429를 숨겨 주지만, 재시도는 두 번뿐이고 대기 시간도 짧습니다.
# 한도를 오래 넘는 작업에는 2~4번 노트북의 지수 백오프(exponential backoff)와 5번 노트북의 속도 조절(pacing)이 필요합니다.

# %% [markdown]
# Both calls finished without an error, yet the server sent 429s and received retries.
# A default client hides 429s this way, but it retries only twice with short waits.
# Work that stays over the limit for longer needs the exponential backoff of notebooks 2 to 4 and the pacing of notebook 5.

# %% [markdown]
# ## 4. 할당량 부족 · insufficient_quota

# %% [markdown]
# 429가 모두 속도 제한은 아닙니다.
# 계정의 크레딧이나 월 사용 한도가 바닥나면 OpenAI는 `code`가 `insufficient_quota`인 429를 돌려줍니다: 할당량 부족(insufficient quota)입니다.
# 아래 셀은 모의 서버를 할당량 부족 상태로 바꾸고 요청 하나를 보낸 뒤, 다시 원래대로 돌려놓습니다.

# %% [markdown]
# Not every 429 is a rate limit.
# When an account runs out of credit or reaches its monthly spending limit, OpenAI returns a 429 whose `code` is `insufficient_quota`.
# The cell below switches the mock server into the quota-exhausted mode, sends one request, and switches it back.

# %%
session.configure(quota_exhausted=True)
try:
    client.chat.completions.create(model=session.model, messages=[{"role": "user", "content": "안녕하세요"}], max_tokens=20)
except openai.RateLimitError as error:
    quota_error = error
session.configure(quota_exhausted=False)
lesson.table(
    [
        {"error": "rate limit", "class": type(last_error).__name__, "status_code": last_error.status_code, "code": last_error.code},
        {"error": "quota", "class": type(quota_error).__name__, "status_code": quota_error.status_code, "code": quota_error.code},
    ]
)

# %% [markdown]
# 두 오류는 예외 종류도 상태 코드도 같고, `code`만 다릅니다.
# 할당량 부족은 결제 문제라서, 아무리 기다려도 풀리지 않습니다: 결제 정보나 사용 한도를 고쳐야 합니다.
# 그러니 재시도 코드는 `code`를 보고 `insufficient_quota`이면 바로 포기해야 합니다.

# %% [markdown]
# The two errors share the exception class and the status code; only `code` differs.
# An exhausted quota is a billing problem, and no amount of waiting fixes it: the billing details or the spending limit must change.
# Retry code should therefore check `code` and give up at once on `insufficient_quota`.

# %%
print(quota_error.body["message"])

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 기본 `openai` 클라이언트는 429를 조용히 두 번 재시도합니다.
#   직접 재시도를 구현할 때는 `max_retries=0`으로 꺼야 재시도가 겹쳐 곱해지지 않습니다.
# - 429라고 모두 기다리면 되는 것은 아닙니다.
#   `code`가 `insufficient_quota`이면 결제 문제이므로 재시도하지 마세요.
#   기본 클라이언트는 `code`가 아니라 상태 코드(와 선택적인 `x-should-retry` 헤더)로 판단하므로, 이 429도 재시도할 수 있습니다.
# - 분당 한도는 더 짧은 구간으로 나눠 적용될 수 있습니다.
#   OpenAI의 속도 제한 안내서는 분당 60,000건이 초당 1,000건으로 적용될 수 있다고 설명합니다.
#   그래서 분당 합계가 한도 아래여도 짧은 버스트는 429를 받습니다.
# - 실패한 요청도 분당 한도에 계산됩니다.
#   기다리지 않고 계속 다시 보내면 한도에서 더 멀어집니다.
#   모의 서버에서는 `charge_refused=True`로 이 동작을 흉내 냅니다.
# - 토큰 한도는 받아들이는 순간 `max_tokens`까지 계산합니다.
#   필요 이상으로 큰 `max_tokens`는 답이 짧아도 분당 토큰 수를 낭비합니다.
# - 한국어는 같은 내용에 영어보다 토큰이 많이 듭니다.
#   영어 기준 어림셈 대신 `tokens.count_text_tokens`로 세어 보세요.
# - 오래된 예제는 openai 1.0 이전의 모듈 경로에서 예외를 가져옵니다.
#   지금은 `openai.RateLimitError`처럼 최상위 이름을 씁니다.

# %% [markdown]
# - A default `openai` client silently retries a 429 twice.
#   When you write your own retries, switch it off with `max_retries=0`, or the two layers of retries multiply.
# - Not every 429 is solved by waiting.
#   When `code` is `insufficient_quota`, it is a billing problem, so do not retry.
#   A default client decides by the status code (and an optional `x-should-retry` header), not by `code`, so it may retry this 429 too.
# - Per-minute limits may be enforced over shorter periods.
#   OpenAI's rate-limit guide explains that 60,000 requests per minute may be enforced as 1,000 requests per second.
#   A short burst can therefore get 429s while the per-minute total stays under the limit.
# - Failed requests count against the per-minute limit too.
#   Resending without waiting pushes you further past the limit.
#   The mock server imitates this with `charge_refused=True`.
# - The token limit charges the full `max_tokens` at admission.
#   A `max_tokens` larger than needed wastes tokens per minute even when the answer is short.
# - Korean takes more tokens than English for the same content.
#   Count them with `tokens.count_text_tokens` instead of using the English rule of thumb.
# - Old examples import the exceptions from a module path that openai 1.0 removed.
#   Use the top-level names such as `openai.RateLimitError` today.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - OpenAI 속도 제한 안내서: 등급별 한도, 헤더, 짧은 구간 적용 <https://platform.openai.com/docs/guides/rate-limits>
# - OpenAI 오류 코드 안내서: 429의 두 가지 뜻 <https://platform.openai.com/docs/guides/error-codes>
# - 내 계정의 현재 한도 <https://platform.openai.com/settings/organization/limits>
# - openai-python README의 재시도와 시간 제한 설명 <https://github.com/openai/openai-python#retries>
# - 다음 노트북 `02_retry_tenacity`: tenacity로 지수 백오프 구현하기

# %% [markdown]
# - OpenAI's rate-limit guide: limits by tier, the headers, enforcement over shorter periods <https://platform.openai.com/docs/guides/rate-limits>
# - OpenAI's error-code guide: the two meanings of 429 <https://platform.openai.com/docs/guides/error-codes>
# - Your account's current limits <https://platform.openai.com/settings/organization/limits>
# - The openai-python README on retries and timeouts <https://github.com/openai/openai-python#retries>
# - Next notebook, `02_retry_tenacity`: exponential backoff with tenacity
