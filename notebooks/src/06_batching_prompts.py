# %% [markdown]
# # 06. 여러 프롬프트를 한 요청에 · Batching prompts

# %% [markdown]
# 분당 요청 수(RPM) 한도가 분당 토큰 수(TPM) 한도보다 먼저 묶이면, 요청 하나에 프롬프트 여러 개를 담는 배치 처리(batching)로 처리량(throughput)을 높일 수 있습니다.
# 완성(completions) 엔드포인트는 `prompt`에 프롬프트 목록을, 임베딩 엔드포인트는 `input`에 입력 목록을 받습니다.
# 이 노트북은 한 번에 하나씩 보낼 때와 10개씩 묶어 보낼 때를 비교하고, 답의 순서가 섞이는 함정과 그 해결책인 `index`를 보여 줍니다.

# %% [markdown]
# When the requests-per-minute (RPM) limit binds before the tokens-per-minute (TPM) limit, batching several prompts into one request raises throughput.
# The completions endpoint takes a list of prompts in `prompt`, and the embeddings endpoint a list of inputs in `input`.
# This notebook compares sending one prompt at a time with sending ten per request, and shows the trap of answers arriving out of order and its fix, `index`.

# %% [markdown]
# 준비 셀은 모의 서버(mock server)를 분당 요청 수 120, 분당 토큰 수 100,000, 버스트(burst) 1초로 시작합니다.
# 요청 한도가 먼저 묶이도록 토큰 한도는 넉넉하게 잡았습니다.
# 완성 엔드포인트는 `gpt-3.5-turbo-instruct` 같은 instruct 모델에만 쓸 수 있습니다.

# %% [markdown]
# The set-up cell starts the mock server at 120 requests per minute, 100,000 tokens per minute and a burst of 1 second.
# The token limit is generous, so that the request limit binds first.
# The completions endpoint serves only instruct models such as `gpt-3.5-turbo-instruct`.

# %%
import matplotlib.pyplot as plt

from ratelimit_toolkit import batching, lesson, plots
from ratelimit_toolkit.limiter import RateLimiter
from ratelimit_toolkit.tokens import estimate_request

RPM, TPM = 120, 100_000
COMPLETIONS_MODEL = "gpt-3.5-turbo-instruct"
session = lesson.start(rpm=RPM, tpm=TPM, burst_seconds=1.0)
client = session.client()
# One limiter for every request of this notebook, as there is one server bucket behind them all.
limiter = RateLimiter(RPM, TPM)


def has_hangul(text):
    return any("가" <= char <= "힣" for char in text)


def question(number):
    if number % 2 == 0:
        return f"{number}번 질문: 속도 제한을 한 문장으로 설명하세요:"
    return f"Question {number}: describe rate limits in one sentence:"


# %% [markdown]
# ## 1. 한 번에 하나씩과 10개씩 · One at a time and ten at a time

# %% [markdown]
# 두 실행 모두 준비 셀의 리미터 하나를 함께 쓰므로 429는 나오지 않고, 둘 다 분당 120건으로 요청을 보냅니다.
# 한 번에 하나씩 보내는 쪽은 프롬프트 30개를, 10개씩 묶는 쪽은 같은 시간 동안 프롬프트 300개를 보냅니다.
# `batching.complete_prompts`는 프롬프트를 요청 크기와 토큰 예산에 맞게 나누고, 답을 `index`로 프롬프트 순서에 맞춰 돌려줍니다.
# 두 셀을 합쳐 30초쯤 걸립니다.

# %% [markdown]
# Both runs share the set-up cell's limiter, so no 429s appear, and both send requests at 120 per minute.
# The one-at-a-time run sends 30 prompts; the run with ten per request sends 300 prompts in about the same time.
# `batching.complete_prompts` splits the prompts to fit the request size and the token budget, and returns the answers in prompt order, matched by `index`.
# The two cells take about 30 seconds together.

# %%
serial = batching.complete_prompts(
    client, [question(number) for number in range(30)], model=COMPLETIONS_MODEL, max_tokens=40,
    limiter=limiter, max_prompts_per_request=1,
)

# %%
batched = batching.complete_prompts(
    client, [question(number) for number in range(300)], model=COMPLETIONS_MODEL, max_tokens=40,
    limiter=limiter, max_prompts_per_request=10,
)

# %% [markdown]
# 표에서 분당 요청 수는 두 실행이 같고, 분당 프롬프트 수와 분당 토큰 수가 약 10배 차이 나는지 보세요.

# %% [markdown]
# In the table, check that both runs send the same requests per minute, while prompts per minute and tokens per minute differ about tenfold.

# %%
def summary(label, run):
    minutes = run.events[-1].seconds / 60
    prompts = sum(event.items for event in run.events)
    return {"run": label, "requests": run.requests, "prompts": prompts, "missing": len(run.missing),
            "elapsed (s)": round(minutes * 60, 1), "requests/min": round(run.requests / minutes),
            "prompts/min": round(prompts / minutes), "tokens/min": round(run.total_tokens / minutes)}


lesson.table([summary("one per request", serial), summary("ten per request", batched)])

# %% [markdown]
# 요청 수가 한도에 묶인 상황에서, 묶어 보내기만으로 같은 시간에 열 배의 프롬프트를 처리했습니다.
# 대신 토큰은 열 배로 씁니다: 배치 처리는 병목을 요청 한도에서 토큰 한도로 옮깁니다.

# %% [markdown]
# With the request limit binding, batching alone answered ten times the prompts in the same time.
# It uses ten times the tokens, too: batching moves the bottleneck from the request limit to the token limit.

# %% [markdown]
# 아래 왼쪽 그래프는 2초 구간마다의 분당 요청 수이고, 점선이 한도입니다.
# 오른쪽은 같은 구간의 분당 토큰 수입니다.

# %% [markdown]
# The left plot below shows requests per minute over 2-second windows, with the limit dashed.
# The right plot shows tokens per minute over the same windows.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for label, run in (("one per request", serial), ("ten per request", batched)):
    plots.plot_throughput(run.requests_over_time(), cumulative=False, window_seconds=2, limit_per_minute=RPM,
                          label=label, ax=left, title=plots.label("분당 요청 수", "Requests per minute"))
    plots.plot_throughput(run.tokens_over_time(), cumulative=False, window_seconds=2, label=label, ax=right,
                          title=plots.label("분당 토큰 수", "Tokens per minute"))
right.set_ylabel(plots.label("분당 토큰 수", "Tokens per minute"));

# %% [markdown]
# 두 선은 왼쪽에서 같은 한도에 붙어 있고, 오른쪽에서 10배쯤 벌어집니다.
# 토큰 쪽은 한도(분당 100,000)의 60% 안팎이므로, 조금 더 크게 묶을 여유가 있습니다.
# `complete_prompts`는 리미터가 있으면 한 요청의 토큰이 리미터의 분당 토큰 수를 넘지 않게 나눕니다.

# %% [markdown]
# On the left both lines sit at the same limit; on the right they are about ten times apart.
# Tokens run at about 60% of their limit (100,000 per minute), so somewhat larger batches would still fit.
# When given a limiter, `complete_prompts` splits the prompts so that no request exceeds the limiter's tokens per minute.

# %% [markdown]
# ## 2. 순서가 섞인 답 · Answers out of order

# %% [markdown]
# 프롬프트 여러 개를 보내면 `choices`가 프롬프트 순서대로 온다는 보장이 없습니다.
# 각 답의 `index`가 어느 프롬프트의 답인지 알려 줍니다: `n`개씩 받을 때는 `index // n`이 프롬프트 번호입니다.
# 모의 서버는 위치로 짝지은 코드가 눈에 띄게 틀리도록 일부러 순서를 섞어 보냅니다.
# 아래 셀은 한국어와 영어 프롬프트를 번갈아 6개 보내고, 위치로 짝지은 답과 `index`로 짝지은 답의 언어가 프롬프트와 맞는지 봅니다.

# %% [markdown]
# When you send several prompts, nothing guarantees that `choices` come back in prompt order.
# Each answer's `index` identifies the prompt it belongs to: with `n` answers per prompt, `index // n` is the prompt number.
# The mock server shuffles them on purpose, so that code matching by position fails visibly.
# The cell below sends six prompts alternating Korean and English, and checks whether the answers matched by position and by `index` are in the prompt's language.

# %%
trap_prompts = [question(number) for number in range(6)]
limiter.acquire(estimate_request("completions", {"model": COMPLETIONS_MODEL, "prompt": trap_prompts, "max_tokens": 30}).total)
response = client.completions.create(model=COMPLETIONS_MODEL, prompt=trap_prompts, max_tokens=30)
by_position = [choice.text for choice in response.choices]
by_index = batching.match_choices(response.choices, len(trap_prompts)).first_answers()
lesson.table([
    {"prompt": prompt[:24], "index at this position": choice.index,
     "by position": positional[:28], "position right": has_hangul(positional) == has_hangul(prompt),
     "by index": indexed[:28], "index right": has_hangul(indexed) == has_hangul(prompt)}
    for prompt, choice, positional, indexed in zip(trap_prompts, response.choices, by_position, by_index)
])

# %% [markdown]
# 위치로 짝지으면 한국어 질문에 영어 답이 붙는 줄이 생깁니다: 틀린 답을 조용히 저장하는 버그입니다.
# `index`로 짝지으면 모든 줄의 언어가 맞습니다.
# `match_choices`는 빠진 답이 있으면 빈 문자열 대신 `missing` 목록으로 알리고, 범위를 벗어난 `index`에는 `ValueError`를 냅니다.

# %% [markdown]
# Matching by position puts English answers next to Korean questions in some rows: a bug that silently stores wrong answers.
# Matching by `index` gives every row the right language.
# When an answer is missing, `match_choices` reports it in a `missing` list instead of an empty string, and an `index` out of range raises `ValueError`.

# %% [markdown]
# ## 3. 채팅 모델은? · What about chat models?

# %% [markdown]
# 채팅 모델에는 프롬프트 목록을 넘길 수 없습니다.
# `messages`는 서로 독립된 프롬프트가 아니라 대화 한 편이고, 요청 하나는 답 하나(또는 `n`개의 후보)를 돌려줍니다.
# 그래서 세 가지 길이 있습니다.
# 첫째, 대화마다 요청을 하나씩 보내고 05 노트북의 토큰 버킷으로 속도를 조절합니다.
# 둘째, 질문 여러 개를 번호를 붙여 메시지 하나에 담고, 답을 JSON으로 달라고 합니다: 요청 수는 줄지만 답이 모든 질문을 담도록 `max_tokens`를 넉넉히 잡아야 하고, 빠지거나 섞인 답을 검사해야 합니다.
# 셋째, 급하지 않은 대량 작업은 배치 API(Batch API)에 맡깁니다 (09 노트북).
# 아래 셀은 둘째 방법이 요청 수와 토큰을 어떻게 바꾸는지 예상 토큰으로 비교합니다.

# %% [markdown]
# Chat models cannot take a list of prompts.
# `messages` is one conversation, not independent prompts, and one request returns one answer (or `n` candidates).
# That leaves three paths.
# First, send one request per conversation and pace them with notebook 05's token bucket.
# Second, put several numbered questions in one message and ask for a JSON answer: fewer requests, but `max_tokens` must cover every answer, and missing or mixed-up answers must be checked.
# Third, hand large jobs that are not urgent to the Batch API (notebook 09).
# The cell below compares the requests and estimated tokens of the second path with the first.

# %%
questions = [question(number) for number in range(10)]
separate = [{"model": session.model, "messages": [{"role": "user", "content": text}], "max_tokens": 40} for text in questions]
numbered = "\n".join(f"{number}. {text}" for number, text in enumerate(questions))
combined = {"model": session.model, "max_tokens": 400, "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": 'Answer every question. Reply with JSON: {"answers": ["...", ...]} in question order.'},
                         {"role": "user", "content": numbered}]}
lesson.table([
    {"path": "one request per question", "requests": len(separate),
     "tokens charged": sum(estimate_request("chat/completions", body).total for body in separate)},
    {"path": "ten questions in one message", "requests": 1, "tokens charged": estimate_request("chat/completions", combined).total},
])

# %% [markdown]
# 질문을 합치면 요청은 10분의 1이 되고, 메시지마다 붙는 형식 토큰만큼 토큰도 조금 줄어듭니다.
# 요청 한도에 묶인 채팅 작업이라면 이 방법이 처리량을 올리지만, 답을 질문에 다시 짝짓는 일은 이제 JSON을 읽는 코드의 몫입니다.

# %% [markdown]
# Combining the questions cuts the requests to a tenth and saves a few tokens of per-message formatting.
# For a chat job bound by the request limit this raises throughput, but matching answers back to questions now falls to the code that reads the JSON.

# %% [markdown]
# ## 4. 임베딩 · Embeddings

# %% [markdown]
# 임베딩 엔드포인트는 요청 하나에 입력을 2,048개까지, 토큰을 모두 합쳐 300,000개까지 받습니다.
# `batching.embed_inputs`는 이 한도 안에서 입력을 나누고, 벡터를 `index`로 입력 순서에 맞춥니다.
# 아래 셀은 문장 500개를 임베딩합니다.

# %% [markdown]
# The embeddings endpoint takes up to 2,048 inputs per request, and up to 300,000 tokens summed over them.
# `batching.embed_inputs` splits the inputs within these limits and puts the vectors in input order by `index`.
# The cell below embeds 500 sentences.

# %%
sentences = [question(number) for number in range(500)]
embedded = batching.embed_inputs(client, sentences, model="text-embedding-3-small", limiter=limiter)
lesson.table([{"inputs": len(sentences), "requests": embedded.requests, "missing": len(embedded.missing),
               "dimensions": len(embedded.vectors[0]), "tokens": embedded.total_tokens}])

# %% [markdown]
# 문장 500개가 요청 하나로 끝났습니다.
# 한 번에 하나씩 보냈다면 분당 120건 한도에서 4분이 넘게 걸렸을 것입니다.

# %% [markdown]
# The 500 sentences took a single request.
# One at a time, they would have taken more than 4 minutes at 120 requests per minute.

# %% [markdown]
# ## 함정 · Gotchas

# %% [markdown]
# - 답은 `index`로 짝지으세요. 위치로 짝지으면 답이 섞여도 오류 없이 틀린 결과가 저장됩니다.
# - `n`이 1보다 크면 프롬프트 `p`의 `k`번째 답의 `index`는 `p × n + k`입니다.
# - 토큰 한도는 받아들이는 순간 프롬프트마다 `max_tokens × n`을 계산합니다.
#   프롬프트 10개에 `max_tokens=400`이면 답이 짧아도 요청 하나가 4,000토큰 넘게 씁니다.
# - 요청 하나의 토큰이 분당 토큰 수보다 크면 절대 받아들여지지 않습니다.
#   `complete_prompts`에 리미터를 넘기면 이 한도에 맞춰 나눕니다.
# - 배치 하나가 실패하면 그 안의 프롬프트가 모두 실패합니다.
#   `retry=`로 `ratelimit_toolkit.retry`의 재시도 데코레이터를 넘기면 배치 단위로 재시도합니다.
# - 완성 엔드포인트는 instruct 모델 전용인 레거시 API입니다.
#   채팅 모델에는 대화마다 요청을 보내거나, 질문을 한 메시지에 모으거나, 배치 API를 쓰세요.

# %% [markdown]
# - Match answers by `index`. Matching by position stores wrong answers without any error when the order is shuffled.
# - With `n` above 1, the `k`-th answer of prompt `p` has `index` `p × n + k`.
# - At admission the token limit charges `max_tokens × n` for every prompt.
#   Ten prompts with `max_tokens=400` take over 4,000 tokens per request, however short the answers.
# - A request whose tokens exceed the tokens-per-minute limit can never be admitted.
#   Give `complete_prompts` a limiter and it splits the prompts to fit.
# - When one batch fails, every prompt in it fails.
#   Pass a retry decorator from `ratelimit_toolkit.retry` as `retry=` to retry per batch.
# - The completions endpoint is a legacy API for instruct models only.
#   For chat models, send one request per conversation, gather the questions into one message, or use the Batch API.

# %% [markdown]
# ## 더 알아보기 · Where to learn more

# %% [markdown]
# - OpenAI 속도 제한 안내서 <https://platform.openai.com/docs/guides/rate-limits>
# - 완성 API 참조: `prompt` 목록과 `choices[].index` <https://platform.openai.com/docs/api-reference/completions/create>
# - 임베딩 API 참조: 입력 목록과 요청당 한도 <https://platform.openai.com/docs/api-reference/embeddings/create>
# - `05_proactive_throttling`: 토큰 버킷으로 속도 조절하기
# - `09_batch_api`: 급하지 않은 대량 작업을 배치 API로 처리하기

# %% [markdown]
# - OpenAI's rate-limit guide <https://platform.openai.com/docs/guides/rate-limits>
# - Completions API reference: the `prompt` list and `choices[].index` <https://platform.openai.com/docs/api-reference/completions/create>
# - Embeddings API reference: input lists and per-request limits <https://platform.openai.com/docs/api-reference/embeddings/create>
# - `05_proactive_throttling`: throttling with token buckets
# - `09_batch_api`: large jobs that are not urgent, through the Batch API
