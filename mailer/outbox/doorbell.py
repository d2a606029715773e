"""The doorbell: one broker message that tells the workers "there is email to send".

The message carries nothing: whichever worker answers claims every due row it can
send (mailer.outbox.dispatch), so a message lost by the broker, or two where one
would do, changes nothing but the timing. What it saves is per-email work: the web
request publishes at most one message (and usually none), and a burst of emails
costs the broker a few messages, not one per email.

A request does not wait for the ring: ``ring_soon`` hands it to a background thread
of the process. Rings are coalesced through a Redis key that says "a doorbell is on its way"
(``PENDING_KEY``, SET NX): ``ring`` publishes only when it sets the key, and a
worker deletes it when it answers, *before* it claims, so an email committed after
that claim began rings again. The key expires after MAILER_DOORBELL_TTL_SECONDS,
in case the message it stood for was lost; the keeper does not wait that long when
due email waits and nobody sends (``ring(stale_after=…)``).

``DRAINING_KEY`` lists the workers sending right now (a sorted set: each worker
refreshes its own entry every second, removes it when its drain ends, and a dead
worker's entry lapses within seconds); the keeper (mailer.outbox.delivery) rings
only when due email waits and nobody is sending, so recovery adds no messages
while the outbox drains.

The task is published by name (``DOORBELL_TASK``), so the outbox never imports the
tasks module that answers it.
"""

import atexit
import contextlib
import logging
import os
import threading
import time
from functools import lru_cache

import redis
from celery import current_app
from django.conf import settings

from ..sending.redis_client import redis_client

logger = logging.getLogger("mailer.publish")

# The name mailer.tasks registers the doorbell under.
DOORBELL_TASK = "mailer.deliver"
PENDING_KEY = "electnepal:mailer:doorbell"
DRAINING_KEY = "electnepal:mailer:draining"
# A process's rings are at least this far apart (seconds): see _Ringer.
RING_SPACING = 0.01


def _client():
    return redis_client(settings.REDIS_URL, 2.0)


# KEYS: pending. ARGV: seconds until the doorbell is due, TTL (ms), stale after (s; 0: never).
# The value is when the doorbell on its way is due (Redis's clock). Returns 1 if the caller must publish.
_CLAIM_RING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = tonumber(redis.call('GET', KEYS[1]) or '')
local stale = tonumber(ARGV[3])
if due and (stale <= 0 or now - due < stale) then
  return 0
end
redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[1])), 'PX', ARGV[2])
return 1
"""


@lru_cache(maxsize=4)
def _claim_ring(url: str):
    return redis_client(url, 2.0).register_script(_CLAIM_RING)  # EVALSHA: the request path sends no script text


def ring(*, after: float = 0.0, stale_after: float = 0.0) -> bool:
    """Publish a doorbell unless one is on its way already; True if this call published one.

    ``after``: the doorbell rings that many seconds from now (a Celery countdown,
    short: the end of a pause), and stands for every email due meanwhile.
    ``stale_after``: a doorbell still unanswered that many seconds after it was due
    is taken for lost (its consumer's host died or was cut off with it unacked, and
    the broker gives it back only after its visibility timeout): ring anew. Never
    raises: with the broker down the rows wait in the outbox, and the keeper of any
    running worker (or the beat sweeper) rings once it answers.
    """
    ttl = max(settings.MAILER_DOORBELL_TTL_SECONDS, after + settings.MAILER_DOORBELL_TTL_SECONDS)
    try:
        if not _claim_ring(settings.REDIS_URL)(keys=[PENDING_KEY], args=[after, int(ttl * 1000), stale_after]):
            return False
        current_app.send_task(DOORBELL_TASK, queue=settings.MAILER_QUEUE, countdown=after or None)
    except Exception as exc:  # noqa: BLE001 redis, kombu: the rows stay due, the keeper rings later
        logger.warning("doorbell not rung, the outbox keeps the email until a worker looks: %s", exc)
        _forget_pending()
        return False
    return True


class _Ringer:
    """A background thread of the process that rings for the transactions it committed.

    The request that committed an email does not wait for Redis: ``ring_soon`` hands
    the ring to this thread and returns. One ring covers every request asked for
    before it starts: a ring follows another no sooner than ``RING_SPACING`` seconds
    later, so that a burst of commits costs Redis a few calls, not one each (and
    the process the CPU of one call per request), while a commit still rings within
    ``RING_SPACING`` of itself. A process that ends with a ring pending rings before
    it exits (atexit); one killed first leaves it to a worker's keeper (a few
    seconds later).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._changed = threading.Condition()
        self._asked = self._done = 0
        threading.Thread(target=self._run, name="mailer-doorbell", daemon=True).start()

    def _run(self) -> None:
        rang = -RING_SPACING
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._asked > self._done)
            # Requests asked for meanwhile are covered by this ring: it starts after their commits.
            time.sleep(max(0.0, rang + RING_SPACING - time.monotonic()))
            with self._changed:
                covering = self._asked
            rang = time.monotonic()
            ring()
            with self._changed:
                self._done = covering
                self._changed.notify_all()

    def ask(self) -> None:
        with self._changed:
            self._asked += 1
            self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        with self._changed:
            target = self._asked
            return self._changed.wait_for(lambda: self._done >= target, timeout)


_ringer: _Ringer | None = None
_ringer_lock = threading.Lock()


def ring_soon() -> None:
    """Ring from this process's background thread, without waiting (a request's on-commit hook)."""
    global _ringer
    with _ringer_lock:
        if _ringer is None or _ringer.pid != os.getpid():  # a forked process starts its own
            _ringer = _Ringer()
    _ringer.ask()


def flush(timeout: float = 5.0) -> bool:
    """Wait until the rings asked for in this process so far are done; False on timeout."""
    ringer = _ringer
    return ringer is None or ringer.pid != os.getpid() or ringer.flush(timeout)


atexit.register(flush)


def _forget_pending() -> None:
    with contextlib.suppress(redis.RedisError):
        _client().delete(PENDING_KEY)


def answered() -> None:
    """A worker took a doorbell: the next email must ring again (called before claiming)."""
    _forget_pending()


# On Redis's clock, so that the workers' clocks do not matter. KEYS: the set.
# ARGV: worker, seconds (0: remove), or none to count the live entries.
_DRAINING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if ARGV[1] then
  if tonumber(ARGV[2]) > 0 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
    redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
  else
    redis.call('ZREM', KEYS[1], ARGV[1])
  end
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


def draining(worker: str, seconds: float) -> None:
    """``worker`` is sending and says so for ``seconds`` (0: it has stopped)."""
    with contextlib.suppress(redis.RedisError):
        _client().eval(_DRAINING, 1, DRAINING_KEY, worker, seconds)


def anyone_draining() -> bool:
    """Whether some worker is sending right now (False without Redis)."""
    try:
        return bool(_client().eval(_DRAINING, 1, DRAINING_KEY))
    except redis.RedisError:
        return False
