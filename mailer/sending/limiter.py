"""The global send-rate and 24-hour quota limiter, shared by every worker through Redis.

SES enforces a maximum send rate (per second) and a rolling 24-hour quota for the
whole account, so the limit must hold across all worker threads, processes and
hosts together. One Lua script does the bookkeeping atomically, on Redis's clock
(so the workers' clocks do not matter):

- Rate: GCRA (generic cell rate algorithm). Sends are spaced ``interval`` apart. A
  worker reserves a run of consecutive slots for the emails it is about to claim,
  each thread sleeps until its own, and no slot lies further ahead than the
  horizon: a batch of bulk email holds back a password reset claimed after it by
  at most that horizon. Spacing, rather than a per-second bucket, means that no
  one-second window ever holds more than the rate, even with network jitter
  between the reservation and SES receiving the call.
- Quota: a sorted set of the reserved slots of the last 24 h (one member per
  email); when it is full the caller learns when the oldest slot expires. The
  last MAILER_24H_SECURITY_RESERVE of it is kept for security (high-priority)
  email: a grant says how many of its slots bulk email may take (``bulk``), so
  that a flood of bulk email cannot hold back a password reset for a day.
- Throttling: SES's real rate can be lower than the configured one (a new
  account, a region's hiccup). Each throttling answer (``throttled``) cuts the
  rate by MAILER_THROTTLE_FACTOR, at most once a second (the sends already under
  way at the old rate answer alike and must not cut it again); without throttles
  it climbs back linearly to the full rate in MAILER_THROTTLE_RECOVERY_SECONDS.
  Additive increase, multiplicative decrease, as TCP does: the workers settle
  just under whatever SES accepts, shared by every worker through one Redis hash.

A worker that reserved more slots than it found emails for gives the unused ones
back (``release``): the rate's clock goes back if nobody reserved after it, and the
quota forgets them either way.
"""

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from .redis_client import redis_client

RATE_KEY = "electnepal:mailer:rate:tat"
QUOTA_KEY = "electnepal:mailer:quota:24h"
# Hash: the rate's scale (0..1] after the last throttle cut, and when that cut was (Redis time).
SCALE_KEY = "electnepal:mailer:rate:scale"
# The rate never falls below this share of MAILER_MAX_SEND_RATE: throttling slows sending, never stops it.
MIN_SCALE = 0.05
# Throttles within this many seconds of a cut answer sends made at the old rate: they do not cut again.
CUT_COOLDOWN = 1.0

# The scale now: the last cut, plus what it has climbed back since. KEYS[3]: the scale hash; ARGV[8]: climb per second.
_SCALE = """
local function scale_now(now)
  local s = redis.call('HMGET', KEYS[3], 'scale', 'at')
  if not s[1] then return 1 end
  return math.min(1, tonumber(s[1]) + tonumber(ARGV[8]) * (now - tonumber(s[2])))
end
"""

# KEYS: rate TAT, quota zset, scale hash. ARGV: interval, n, cap, window, horizon, member prefix,
# the share of cap bulk email may use, climb per second.
# Returns {slots granted, seconds to the first slot (or to come back), the TAT after them, what held it back,
# the rate's scale (the interval was divided by it), how many of the slots bulk email may take}.
_RESERVE = (
    _SCALE
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
local bulk = allowed
local scale = scale_now(now)
if interval > 0 then interval = interval / scale end
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local used = redis.call('ZCARD', KEYS[2])
  local free = cap - used
  if free <= 0 then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, tostring(tonumber(oldest[2]) + window - now), '', 'quota', tostring(scale), 0}
  end
  if free < allowed then allowed = free end
  bulk = math.max(0, math.floor(cap * tonumber(ARGV[7])) - used)
end
local tat = now
local after = ''
if interval > 0 then
  tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  local room = math.floor((now + horizon - tat) / interval) + 1
  if room <= 0 then
    return {0, tostring(tat - horizon - now), '', 'rate', tostring(scale), 0}
  end
  if room < allowed then allowed = room end
  after = tostring(tat + interval * allowed)
  redis.call('SET', KEYS[1], after, 'PX', math.ceil((tat + interval * allowed - now) * 1000) + 1000)
end
if cap > 0 then
  for i = 1, allowed do
    redis.call('ZADD', KEYS[2], tat + interval * (i - 1), ARGV[6] .. ':' .. i)
  end
  redis.call('EXPIRE', KEYS[2], math.ceil(window) + 60)
end
return {allowed, tostring(tat - now), after, '', tostring(scale), math.min(bulk, allowed)}
"""
)

# KEYS: -, -, scale hash. ARGV: factor, floor, cooldown, -, -, -, -, climb per second.
# Returns the scale after this cut, or '' within the cooldown of the last cut (no cut).
_THROTTLED = (
    _SCALE
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local at = tonumber(redis.call('HGET', KEYS[3], 'at') or '0')
local scale = scale_now(now)
if now - at < tonumber(ARGV[3]) then return '' end
scale = math.max(tonumber(ARGV[2]), scale * tonumber(ARGV[1]))
redis.call('HSET', KEYS[3], 'scale', tostring(scale), 'at', tostring(now))
redis.call('EXPIRE', KEYS[3], math.ceil((1 - scale) / tonumber(ARGV[8])) + 60)
return tostring(scale)
"""
)

# KEYS: rate TAT, quota zset. ARGV: the TAT the grant left, unused slots, interval, member prefix, slots granted.
_RELEASE = """
local unused = tonumber(ARGV[2])
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then
  local back = tonumber(ARGV[1]) - tonumber(ARGV[3]) * unused
  redis.call('SET', KEYS[1], tostring(back), 'KEEPTTL')
end
local granted = tonumber(ARGV[5])
for i = granted - unused + 1, granted do
  redis.call('ZREM', KEYS[2], ARGV[4] .. ':' .. i)
end
return unused
"""


@dataclass(frozen=True)
class Grant:
    """Send slots from the limiter: ``count`` of them, the first ``wait`` seconds from
    ``at`` (time.monotonic), then one every ``interval``. ``count`` 0: none now, and
    ``wait`` says when to ask again."""

    count: int
    wait: float
    interval: float
    at: float
    tat_after: str = ""
    member: str = ""
    # With no slot: "quota" (the 24 h quota is used up: hours, maybe) or "rate".
    held_by: str = ""
    # How many of the slots bulk email may take: the rest of the 24 h quota is kept for security email.
    bulk: int = 0

    def slot(self, index: int) -> float:
        """The time.monotonic() at which slot ``index`` (0-based) may send."""
        return self.at + self.wait + index * self.interval


@lru_cache(maxsize=4)
def _scripts(url: str):
    client = redis_client(url)
    return client.register_script(_RESERVE), client.register_script(_RELEASE), client.register_script(_THROTTLED)


def _climb_per_second() -> float:
    return 1.0 / max(settings.MAILER_THROTTLE_RECOVERY_SECONDS, 0.001)


def interval() -> float:
    """Seconds between two sends: MAILER_MAX_SEND_RATE less MAILER_RATE_HEADROOM; 0 without a rate."""
    rate = settings.MAILER_MAX_SEND_RATE
    if rate <= 0:
        return 0.0
    # A little headroom below the account's rate absorbs jitter between workers and SES.
    return 1.0 / (rate * (1 - settings.MAILER_RATE_HEADROOM))


def late_tolerance() -> float:
    """How late after its slot a thread may still send.

    Sends spaced at the headroom's rate fit ``headroom / (1 - headroom)`` seconds of
    slack into every second; a send later than that after its slot could make one
    second hold one send more than MAILER_MAX_SEND_RATE. Half of it, leaving the rest
    for the time the request takes to reach SES.
    """
    headroom = settings.MAILER_RATE_HEADROOM
    return 0.5 * headroom / (1 - headroom)


def reserve(n: int, *, horizon: float | None = None) -> Grant:
    """Reserve up to ``n`` consecutive send slots, none more than ``horizon`` seconds ahead.

    ``horizon`` defaults to MAILER_CLAIM_HORIZON_SECONDS. The grant may hold fewer
    slots than asked (the rate, the quota), or none; its ``interval`` is the rate
    as throttling left it, and its ``bulk`` how many slots bulk email may take.
    Raises redis.RedisError when Redis does not answer.
    """
    member = uuid.uuid4().hex
    asked = time.monotonic()
    step = interval()
    count, wait, tat_after, held_by, scale, bulk = _scripts(settings.REDIS_URL)[0](
        keys=[RATE_KEY, QUOTA_KEY, SCALE_KEY],
        args=[
            step,
            n,
            settings.MAILER_MAX_24H_SEND,
            settings.MAILER_QUOTA_WINDOW_SECONDS,
            settings.MAILER_CLAIM_HORIZON_SECONDS if horizon is None else horizon,
            member,
            1 - settings.MAILER_24H_SECURITY_RESERVE,
            _climb_per_second(),
        ],
    )
    text = [v.decode() if isinstance(v, bytes) else str(v) for v in (tat_after, held_by, scale)]
    scale = float(text[2])
    step = step / scale if scale < 1 else step  # the spacing the script used: the same division
    return Grant(int(count), max(0.0, float(wait)), step, asked, text[0], member, text[1], int(bulk))


def throttled() -> float | None:
    """SES answered "slow down": cut the shared rate; return the new scale, or None if it was not cut.

    The scale is the share of MAILER_MAX_SEND_RATE the workers now use, and it climbs
    back by itself. Within CUT_COOLDOWN of the last cut nothing changes (None).
    Raises redis.RedisError when Redis does not answer.
    """
    scale = _scripts(settings.REDIS_URL)[2](
        keys=[RATE_KEY, QUOTA_KEY, SCALE_KEY],
        args=[settings.MAILER_THROTTLE_FACTOR, MIN_SCALE, CUT_COOLDOWN, "", "", "", "", _climb_per_second()],
    )
    return float(scale) if scale else None


def quota_blocked(*, bulk: bool = False) -> float:
    """Seconds until the 24 h quota frees a slot; 0 when it has room (or there is no quota).

    With ``bulk``, a slot bulk email may take (outside MAILER_24H_SECURITY_RESERVE).
    Read-only: what the keeper asks before ringing for email that could not be sent.
    Raises redis.RedisError when Redis does not answer.
    """
    cap, window = settings.MAILER_MAX_24H_SEND, settings.MAILER_QUOTA_WINDOW_SECONDS
    if cap <= 0:
        return 0.0
    if bulk:
        cap = int(cap * (1 - settings.MAILER_24H_SECURITY_RESERVE))
    client = redis_client(settings.REDIS_URL)
    seconds, micros = client.time()  # the limiter scores slots on Redis's clock
    now = seconds + micros / 1e6
    used = client.zcount(QUOTA_KEY, f"({now - window}", "+inf")
    if used < cap:
        return 0.0
    # A slot frees when the (used - cap + 1)-th oldest reservation leaves the window.
    oldest = client.zrangebyscore(QUOTA_KEY, f"({now - window}", "+inf", start=used - cap, num=1, withscores=True)
    return max(0.0, oldest[0][1] + window - now) if oldest else 0.0


def release(grant: Grant, unused: int) -> None:
    """Give back the last ``unused`` slots of ``grant`` (found fewer emails than slots)."""
    if unused <= 0 or not grant.count:
        return
    _scripts(settings.REDIS_URL)[1](
        keys=[RATE_KEY, QUOTA_KEY],
        args=[grant.tat_after, min(unused, grant.count), grant.interval, grant.member, grant.count],
    )
