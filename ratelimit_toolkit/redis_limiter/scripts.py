"""The Lua scripts that read and change a shared limit inside Redis.

Each script runs atomically on the Redis server, so no other client sees or
changes the state halfway through. All of them keep one hash per limit
(`KEYS[1]`) with these fields:

- `r`, `t`: the request and token buckets' levels (negative while in debt);
- `ts`: when the levels were last brought up to date, in microseconds of the
  Redis server's clock (`TIME`), so the clients' clocks never matter;
- `rf`, `tf`: when a full bucket became full, in microseconds of the server's
  clock (absent when the bucket is not full, or has been full since the key
  was created);
- `ps`, `rp0`..`rp6`, `tp0`..`tp6`: the largest deficit (capacity minus
  level) of each bucket in each of the last seven 10-second slots, as the
  server will count it when each request goes. `LOWER` compares a server's
  report with this peak of the last minute.

A missing hash means both buckets are full. Every write sets the key to
expire once both buckets would be full again and a minute has passed, so an
idle limit leaves nothing behind and its expiry changes nothing.

Every script takes the same first three arguments: requests per minute,
tokens per minute (0 disables that bucket) and the burst in seconds. Each
bucket holds `limit * burst_seconds / 60` and refills at `limit / 60` per
second. Levels are Lua doubles, stored with 17 significant digits, so a
round trip through the hash loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Seconds of deficit history kept for `LOWER`: 7 slots of 10 seconds cover
#: at least the last minute.
HISTORY_SECONDS = 60.0

# Shared start of every script: read the arguments and the server clock, then
# refill both buckets up to the present.
_PROLOGUE = """
local key = KEYS[1]
local requests_per_minute = tonumber(ARGV[1])
local tokens_per_minute = tonumber(ARGV[2])
local burst_seconds = tonumber(ARGV[3])

local SLOT_MICROSECONDS = 10000000
local SLOTS = 7
local HISTORY_MICROSECONDS = 60000000

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local request_capacity = requests_per_minute * burst_seconds / 60
local token_capacity = tokens_per_minute * burst_seconds / 60
local request_rate = requests_per_minute / 60000000
local token_rate = tokens_per_minute / 60000000

local stored = redis.call('HMGET', key, 'r', 't', 'ts', 'ps', 'rf', 'tf')
local updated = tonumber(stored[3]) or now
local stored_slot = tonumber(stored[4])
local elapsed = math.max(0, now - updated)

-- Refill one bucket to now. Returns the level and, for a full bucket, when it
-- became full (nil when it is not full, -math.huge when full for longer than
-- the key has existed).
local function refill(stored_level, capacity, rate, stored_full_since)
  if stored_level == nil then
    return capacity, -math.huge
  end
  local level = stored_level + elapsed * rate
  if level < capacity then
    return level, nil
  end
  if stored_level >= capacity then
    return capacity, stored_full_since or -math.huge
  end
  return capacity, updated + (capacity - stored_level) / rate
end

local request_level, request_full_since = refill(
  tonumber(stored[1]), request_capacity, request_rate, tonumber(stored[5]))
local token_level, token_full_since = refill(
  tonumber(stored[2]), token_capacity, token_rate, tonumber(stored[6]))

local function format(number)
  return string.format('%.17g', number)
end

local function microseconds_to_full(level, capacity, rate)
  if rate <= 0 then
    return 0
  end
  return math.max(0, (capacity - level) / rate)
end

-- Note each bucket's deficit in the current 10-second slot, after clearing
-- the slots that have passed since the last note. A deficit is noted as the
-- server will see it, so booked requests that have not gone yet never count.
local function record_peaks(request_deficit, token_deficit)
  local slot = math.floor(now / SLOT_MICROSECONDS)
  if stored_slot ~= nil and slot > stored_slot then
    for offset = 1, math.min(slot - stored_slot, SLOTS) do
      local index = (stored_slot + offset) % SLOTS
      redis.call('HDEL', key, 'rp' .. index, 'tp' .. index)
    end
  end
  local index = slot % SLOTS
  local peaks = redis.call('HMGET', key, 'rp' .. index, 'tp' .. index)
  local request_peak = math.max(tonumber(peaks[1]) or 0, request_deficit)
  local token_peak = math.max(tonumber(peaks[2]) or 0, token_deficit)
  redis.call('HSET', key, 'ps', string.format('%d', slot),
    'rp' .. index, format(request_peak), 'tp' .. index, format(token_peak))
end

local function save_full_since(field, level, capacity, full_since)
  if level >= capacity and full_since ~= nil and full_since > -math.huge then
    redis.call('HSET', key, field, string.format('%d', full_since))
  else
    redis.call('HDEL', key, field)
  end
end

local function save()
  redis.call('HSET', key,
    'r', format(request_level), 't', format(token_level), 'ts', string.format('%d', now))
  save_full_since('rf', request_level, request_capacity, request_full_since)
  save_full_since('tf', token_level, token_capacity, token_full_since)
  local idle = math.max(
    microseconds_to_full(request_level, request_capacity, request_rate),
    microseconds_to_full(token_level, token_capacity, token_rate),
    HISTORY_MICROSECONDS)
  redis.call('PEXPIRE', key, math.ceil(idle / 1000) + 1000)
end

local function levels()
  return {format(request_level), format(token_level)}
end
"""

#: Admit or reserve one request of `ARGV[4]` tokens.
#:
#: `ARGV[5]` is the longest wait the caller accepts, in microseconds (-1 for
#: no bound), and `ARGV[6]` the margin, in microseconds. The script computes
#: when both buckets will hold what the request needs: its amount, or the
#: whole capacity when the amount is larger. That is the debt rule: a request
#: bigger than the burst but within the per-minute limit is admitted on a
#: full bucket and leaves it in debt. Admission runs the margin behind the
#: refill, as in `TokenBucket`: a request goes when the level it needs was
#: already there a margin earlier, so a server that counts the request a
#: network delay later has refilled as well. When that wait
#: is within the bound, both buckets are charged now, which books the
#: request's place: later callers see the lower levels and wait behind it.
#:
#: Returns `{granted, wait_microseconds, request_level, token_level}`:
#: granted is 1 when the request was charged (admitted now when the wait is 0,
#: otherwise booked for that many microseconds from now), 0 when the wait is
#: longer than the bound and nothing changed.
ADMIT = _PROLOGUE + """
local tokens = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])

-- What the bucket can give now when admission runs `margin` behind the
-- refill: the level of `margin` ago, or for a full bucket, the capacity once
-- it has been full for `margin`.
local function available(level, full_since, capacity, rate)
  if level < capacity then
    return level - margin * rate
  end
  local shortfall = math.max(0, margin - (now - full_since))
  return capacity - shortfall * rate
end

local function wait_for(level, full_since, amount, capacity, rate)
  if rate <= 0 then
    return 0
  end
  local needed = math.min(amount, capacity)
  local have = available(level, full_since, capacity, rate)
  if have >= needed - 1e-9 * math.max(1, needed) then
    return 0
  end
  return (needed - have) / rate
end

local wait = math.max(
  wait_for(request_level, request_full_since, 1, request_capacity, request_rate),
  wait_for(token_level, token_full_since, tokens, token_capacity, token_rate))
if max_wait >= 0 and wait > max_wait then
  local result = levels()
  return {0, math.ceil(wait), result[1], result[2]}
end

-- The deficit when the request goes: the level then is the level now plus
-- the refill during the wait (never above capacity), minus the request.
local function deficit_when_sent(level, amount, capacity, rate)
  return capacity - (math.min(capacity, level + wait * rate) - amount)
end

local request_deficit = 0
local token_deficit = 0
if request_rate > 0 then
  request_deficit = deficit_when_sent(request_level, 1, request_capacity, request_rate)
  request_level = request_level - 1
end
if token_rate > 0 then
  token_deficit = deficit_when_sent(token_level, tokens, token_capacity, token_rate)
  token_level = token_level - tokens
end
save()
record_peaks(request_deficit, token_deficit)
local result = levels()
return {1, math.ceil(wait), result[1], result[2]}
"""

#: Give back `ARGV[4]` requests and `ARGV[5]` tokens, never above capacity.
#:
#: Used for a booked request whose caller gave up before its turn, and for a
#: request that used fewer tokens than it was charged. Returns the levels.
REFUND = _PROLOGUE + """
local function refunded(level, full_since, amount, capacity)
  if level >= capacity or amount <= 0 then
    return level, full_since
  end
  local raised = math.min(capacity, level + amount)
  if raised >= capacity then
    return raised, now
  end
  return raised, nil
end

if request_rate > 0 then
  request_level, request_full_since = refunded(
    request_level, request_full_since, tonumber(ARGV[4]), request_capacity)
end
if token_rate > 0 then
  token_level, token_full_since = refunded(token_level, token_full_since, tonumber(ARGV[5]), token_capacity)
end
save()
return levels()
"""

#: Lower the levels by what a server counted and the shared state did not.
#:
#: `ARGV[4]` and `ARGV[5]` are the server's request and token deficits (how
#: far its buckets were from full when it admitted the request), or an empty
#: string when unknown. A server reports its bucket as it was at admission,
#: which may be long before its response arrives. So a deficit is compared
#: with the largest deficit of the last minute, not with the level now, and
#: only the excess counts as usage the shared state missed (such as a client
#: that does not use this limiter). A level is lowered by that excess, never
#: below one minute of debt unless it already is, and never raised.
#:
#: Returns `{request_level, token_level, request_excess, token_excess}`.
LOWER = _PROLOGUE + """
-- The largest deficit noted in the slots of the last minute. The level now
-- is not used: it includes booked requests, which the server has not seen.
local function window_peak(prefix)
  local names = {}
  for index = 0, SLOTS - 1 do
    names[#names + 1] = prefix .. index
  end
  local peak = 0
  if stored_slot ~= nil and math.floor(now / SLOT_MICROSECONDS) - stored_slot < SLOTS then
    for _, value in ipairs(redis.call('HMGET', key, unpack(names))) do
      peak = math.max(peak, tonumber(value) or 0)
    end
  end
  return peak
end

local function excess_over_peak(server_deficit, prefix, capacity, rate)
  if server_deficit == '' or rate <= 0 then
    return 0
  end
  local excess = tonumber(server_deficit) - window_peak(prefix)
  if excess <= 1e-9 * math.max(1, capacity) then
    return 0
  end
  return excess
end

local function lowered(level, excess, capacity, per_minute)
  return math.max(level - excess, math.min(level, capacity - per_minute))
end

local request_excess = excess_over_peak(ARGV[4], 'rp', request_capacity, request_rate)
local token_excess = excess_over_peak(ARGV[5], 'tp', token_capacity, token_rate)
if request_excess > 0 or token_excess > 0 then
  request_level = lowered(request_level, request_excess, request_capacity, requests_per_minute)
  token_level = lowered(token_level, token_excess, token_capacity, tokens_per_minute)
  save()
  -- From now on the shared bucket has counted what the server reported.
  local function reported(deficit, excess)
    if excess > 0 then
      return tonumber(deficit)
    end
    return 0
  end
  record_peaks(reported(ARGV[4], request_excess), reported(ARGV[5], token_excess))
end
local result = levels()
return {result[1], result[2], format(request_excess), format(token_excess)}
"""

#: Read the levels as of now without changing anything.
PEEK = _PROLOGUE + """
return levels()
"""


@dataclass(frozen=True)
class Decision:
    """The admission script's decision for one request.

    Attributes:
        granted: True when both buckets were charged, so the request may go
            after `wait_seconds` (0.0 means now).
        wait_seconds: seconds until the request may go; when not granted, the
            wait that exceeded the caller's bound.
        request_level: the shared request bucket's level after the decision.
        token_level: the shared token bucket's level after the decision.
    """

    granted: bool
    wait_seconds: float
    request_level: float
    token_level: float


def parse_decision(result: Any) -> Decision:
    """Read the reply of `ADMIT`; levels may come back as bytes or str, depending on the client."""
    granted, wait_microseconds, request_level, token_level = result
    return Decision(
        granted=bool(int(granted)),
        wait_seconds=int(wait_microseconds) / 1e6,
        request_level=float(request_level),
        token_level=float(token_level),
    )
