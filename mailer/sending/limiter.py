"""The global send-rate and 24-hour quota limiter, shared by every worker through Redis.

SES enforces a maximum send rate (per second) and a rolling 24-hour quota for the
whole account, so the limit must hold across all worker threads and processes
together. One Lua script does the bookkeeping atomically, on Redis's clock (so the
workers' clocks do not matter):

- Rate: GCRA (generic cell rate algorithm). Sends are spaced ``interval`` apart;
  a caller reserves the next free slot and sleeps until it. Spacing, rather than a
  per-second bucket, means that no one-second window ever holds more than the rate,
  even with network jitter between the reservation and SES receiving the call.
- Quota: a sorted set of the reserved slots of the last 24 h (one member per
  recipient); when it is full the caller learns when the oldest slot expires.

High-priority email may reserve slots well ahead; bulk email reserves only the very
next slot, so bulk callers can never queue up ahead of a password-reset email.
"""

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from .redis_client import redis_client

RATE_KEY = "electnepal:mailer:rate:tat"
QUOTA_KEY = "electnepal:mailer:quota:24h"

# KEYS: rate TAT, quota zset. ARGV: interval, n, cap, window, max_ahead, member prefix.
# Returns {granted (1/0), wait seconds as a string}.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local max_ahead = tonumber(ARGV[5])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local used = redis.call('ZCARD', KEYS[2])
  if used + n > cap then
    local freeing = redis.call('ZRANGE', KEYS[2], used + n - cap - 1, used + n - cap - 1, 'WITHSCORES')
    return {0, tostring(tonumber(freeing[2]) + window - now)}
  end
end
local tat = now
if interval > 0 then
  tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  if tat - now > max_ahead then
    return {0, tostring(tat - now)}
  end
  local next_tat = tat + interval * n
  redis.call('SET', KEYS[1], tostring(next_tat), 'PX', math.ceil((next_tat - now) * 1000) + 1000)
end
if cap > 0 then
  for i = 1, n do
    redis.call('ZADD', KEYS[2], tat, ARGV[6] .. ':' .. i)
  end
  redis.call('EXPIRE', KEYS[2], math.ceil(window) + 60)
end
return {1, tostring(tat - now)}
"""


@dataclass(frozen=True)
class Reservation:
    """What the limiter granted: send slots, or the time to come back."""

    granted: bool
    # granted: sleep this long, then send. Not granted: the earliest moment worth trying again.
    wait: float


@lru_cache(maxsize=4)
def _script(url: str):
    return redis_client(url).register_script(_SCRIPT)


def _interval() -> float:
    rate = settings.MAILER_MAX_SEND_RATE
    if rate <= 0:
        return 0.0
    # A little headroom below the account's rate absorbs jitter between workers and SES.
    return 1.0 / (rate * (1 - settings.MAILER_RATE_HEADROOM))


def _late_tolerance() -> float:
    """How late after its slot a thread may still send.

    Sends spaced at the headroom's rate fit ``headroom / (1 - headroom)`` seconds of
    slack into every second; a send later than that after its slot could make one
    second hold one send more than MAILER_MAX_SEND_RATE. Half of it, leaving the rest
    for the time the request takes to reach SES.
    """
    headroom = settings.MAILER_RATE_HEADROOM
    return 0.5 * headroom / (1 - headroom)


def reserve(n: int = 1, *, max_ahead: float) -> Reservation:
    """Reserve send slots for ``n`` recipients, at most ``max_ahead`` seconds from now."""
    granted, wait = _script(settings.REDIS_URL)(
        keys=[RATE_KEY, QUOTA_KEY],
        args=[
            _interval(),
            n,
            settings.MAILER_MAX_24H_SEND,
            settings.MAILER_QUOTA_WINDOW_SECONDS,
            max_ahead,
            uuid.uuid4().hex,
        ],
    )
    return Reservation(bool(int(granted)), max(0.0, float(wait)))


def wait_for_slot(*, high_priority: bool, n: int = 1, sleep=time.sleep) -> float:
    """Block until this caller may send to ``n`` recipients; return 0.

    If the wait would be longer than MAILER_LIMIT_MAX_SLEEP_SECONDS (the 24 h quota is
    used up), do not wait: return the number of seconds after which to try again.
    """
    interval = _interval()
    max_ahead = settings.MAILER_LIMIT_MAX_SLEEP_SECONDS if high_priority else interval
    tolerance = _late_tolerance()
    while True:
        reservation = reserve(n, max_ahead=max_ahead)
        if reservation.granted:
            if reservation.wait:
                due = time.monotonic() + reservation.wait
                sleep(reservation.wait)
                if time.monotonic() - due > tolerance:
                    # Woke too late (a busy CPU, a slow start): sending now would land
                    # next to the sends of the following slots. Let the slot go.
                    continue
            return 0.0
        if reservation.wait > settings.MAILER_LIMIT_MAX_SLEEP_SECONDS:
            return reservation.wait
        # Bulk: come back when the next free slot is one interval away.
        sleep(max(reservation.wait - interval, interval / 2, 0.001))

