"""Pausing every worker while the provider itself fails, rather than spending each email's attempts.

When SES answers 503 or cannot be reached (or paused the account), the fault is the provider's,
not the email's: retrying each email on its own backoff would spend its attempts
(and fail it for good) during an outage that has nothing to do with it, and keep
hammering SES meanwhile. So after MAILER_PAUSE_AFTER_ERRORS such errors in a row,
with no send succeeding in between, every worker stops claiming emails for a
while: MAILER_PAUSE_BASE_SECONDS, doubling at each pause that follows another,
capped by MAILER_PAUSE_CAP_SECONDS. After a pause one email, and one only across
all workers, is the probe (``gate``): a success resets the doubling and opens the
gate to all, a failure pauses again at once. Errors of sends that were in flight
when the pause began do not count.

State lives in Redis, shared by every process, under the limiter's prefix:
``pause`` (exists while paused; its value says why), ``errors`` (the run of
provider errors), ``level`` (how many pauses since the last send that went
through) and ``probe`` (who holds the probe; it lapses if that worker dies). When
Redis does not answer, nobody can claim anyway (the limiter lives there too): the
breaker then says "open" and lets the limiter's error speak.
"""

import contextlib

import redis
from django.conf import settings

from .redis_client import redis_client

PAUSE_KEY = "electnepal:mailer:pause"
ERRORS_KEY = "electnepal:mailer:pause:errors"
LEVEL_KEY = "electnepal:mailer:pause:level"
LAST_KEY = "electnepal:mailer:pause:last"
PROBE_KEY = "electnepal:mailer:pause:probe"

# KEYS: errors, level, pause, last, probe. ARGV: threshold, base, cap, reason, forget after (s).
# Returns the pause in seconds that this error started, or 0. While paused nothing
# counts; after a pause (level > 0, no success since) the first error pauses again.
_FAILURE = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  return '0'
end
local run = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
local level = tonumber(redis.call('GET', KEYS[2]) or '0')
if level == 0 and run < tonumber(ARGV[1]) then
  return '0'
end
level = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
local pause = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (level - 1))
redis.call('SET', KEYS[3], ARGV[4], 'PX', math.ceil(pause * 1000))
redis.call('SET', KEYS[4], ARGV[4], 'EX', tonumber(ARGV[5]))
redis.call('DEL', KEYS[1], KEYS[5])
return tostring(pause)
"""

# KEYS: pause, level, probe. ARGV: owner, probe lapses after (ms).
# Returns {verdict, milliseconds}: paused (left), open, probe (this owner's), wait (for another's probe).
_GATE = """
local left = redis.call('PTTL', KEYS[1])
if left > 0 then
  return {'paused', left}
end
if tonumber(redis.call('GET', KEYS[2]) or '0') == 0 then
  return {'open', 0}
end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) or redis.call('GET', KEYS[3]) == ARGV[1] then
  return {'probe', 0}
end
return {'wait', math.max(redis.call('PTTL', KEYS[3]), 0)}
"""


def _client():
    return redis_client(settings.REDIS_URL, 2.0)


def paused() -> tuple[float, str]:
    """(seconds left, why) while workers must not claim; (0, "") otherwise or without Redis."""
    try:
        pipe = _client().pipeline(transaction=False)
        pipe.pttl(PAUSE_KEY)
        pipe.get(PAUSE_KEY)
        left, reason = pipe.execute()
    except redis.RedisError:
        return 0.0, ""
    if left is None or left < 0 or reason is None:
        return 0.0, ""
    return left / 1000, reason.decode(errors="replace")


def gate(owner: str) -> tuple[str, float]:
    """May worker ``owner`` claim email now? (verdict, seconds):

    - ``("open", 0)``: the provider is fine; claim as usual.
    - ``("paused", left)``: claim nothing for ``left`` seconds.
    - ``("probe", 0)``: after a pause, ``owner`` holds the probe: claim one email
      and send it; its outcome (``provider_ok`` / ``provider_failed``) decides.
    - ``("wait", left)``: another worker holds the probe; ask again later (it
      lapses after ``left`` seconds if that worker died with it).
    """
    config = settings.AWS_SES_CONFIG
    # The probe outlives the longest send; then a dead prober's probe passes to another worker.
    lapse_ms = int(1000 * (config.connect_timeout + config.read_timeout + 5))
    try:
        verdict, ms = _client().eval(_GATE, 3, PAUSE_KEY, LEVEL_KEY, PROBE_KEY, owner, lapse_ms)
    except redis.RedisError:
        return "open", 0.0
    return verdict.decode(), int(ms) / 1000


def provider_failed(reason: str, *, halt: bool = False) -> float:
    """Count a provider-wide error (``reason`` names it); return the pause it started, or 0.

    ``halt`` (SES paused the account): pause at once, for MAILER_PAUSE_CAP_SECONDS,
    since nothing will go through until an operator acts; each pause still ends
    with one probe, so sending resumes by itself once SES lifts the pause.
    """
    cap = settings.MAILER_PAUSE_CAP_SECONDS
    threshold, base = (1, cap) if halt else (settings.MAILER_PAUSE_AFTER_ERRORS, settings.MAILER_PAUSE_BASE_SECONDS)
    try:
        started = _client().eval(
            _FAILURE,
            5,
            ERRORS_KEY,
            LEVEL_KEY,
            PAUSE_KEY,
            LAST_KEY,
            PROBE_KEY,
            threshold,
            base,
            cap,
            reason[:500],
            int(4 * cap + 60),
        )
    except redis.RedisError:
        return 0.0
    return float(started)


# KEYS: pause, errors, level, last, probe. A success while paused came from a send that was
# in flight when the pause began: like such an error, it says nothing; the probe decides.
_SUCCESS = """
if redis.call('PTTL', KEYS[1]) > 0 then  -- as paused() and the gate count it: a pause with 0 ms left is over
  return 0
end
return redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
"""


def provider_ok() -> None:
    """A send went through after provider errors: the run of errors and the doubling start again.

    Not while paused: that success is a send from before the pause, not the probe.
    """
    with contextlib.suppress(redis.RedisError):
        _client().eval(_SUCCESS, 5, PAUSE_KEY, ERRORS_KEY, LEVEL_KEY, LAST_KEY, PROBE_KEY)


def trouble() -> tuple[int, str]:
    """(pauses, last error) since the last send that went through: (0, "") when the provider is fine.

    (0, "") without Redis too: nothing can be claimed then anyway.
    """
    try:
        level, last = _client().mget(LEVEL_KEY, LAST_KEY)
    except redis.RedisError:
        return 0, ""
    if not level:
        return 0, ""
    return int(level), (last or b"").decode(errors="replace")
