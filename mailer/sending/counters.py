"""Counters the workers share through Redis, for the Prometheus endpoint.

Web runs as several gunicorn processes and the workers as Celery processes with
threads, so a counter kept in one process's memory would show whichever process
Prometheus happened to reach. The workers therefore add to one Redis hash, and
the endpoint (``mailer.ops.metrics``) reads it whole with one HGETALL.

The hash ``HASH_KEY`` holds plain numbers:

- ``latency:<priority>:<le>``, ``latency:<priority>:count``, ``latency:<priority>:sum``:
  seconds from an email's ``created_at`` (written in the caller's transaction) to
  the backend accepting it, for sent emails only, retries and waits included;
- ``duration:<le>``, ``duration:count``, ``duration:sum``: seconds of the backend
  call itself (one SES API request);
- ``limiter_wait:count``, ``limiter_wait:seconds``: how often and how long worker
  threads slept for a send slot of the global rate limiter.

Bucket fields (``<le>``) are *not* cumulative: an observation adds 1 to the one
bucket it falls in (the first bound >= the value, ``+Inf`` past the last); the
endpoint adds them up.

Each process adds its observations up in memory and writes them at most once per
MAILER_METRICS_FLUSH_SECONDS (1 s), as one MULTI/EXEC pipeline, so a scrape never
sees a count without its bucket: one Redis round trip per second instead of one
per email (docs/performance.md). A scrape is thus up to a second behind, and a killed worker loses at most
its last second of observations, as a restarted process would. 0 writes at once.

Recording never fails or noticeably delays a send: Redis errors are swallowed.
"""

import atexit
import bisect
import collections
import logging
import threading
import time

import redis
from django.conf import settings

from .redis_client import redis_client

logger = logging.getLogger("mailer.metrics")

# Under the "electnepal:mailer:" prefix of mailer/limiter.py's keys. No expiry:
# these are counters, and a reset (Redis flushed) is what Prometheus's rate()
# already expects from a restarted process.
HASH_KEY = "electnepal:mailer:metrics"

# created_at → accepted: tens of milliseconds on an idle outbox; minutes to hours
# once retries with backoff (capped at MAILER_RETRY_CAP_SECONDS) or the 24 h quota
# come into it.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
# One SES call; botocore gives up after AWS_SES_READ_TIMEOUT (15 s by default).
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)

# Short timeouts: a metric is not worth holding a worker thread for.
_TIMEOUT = 1.0
_failing = False


def _bucket(prefix: str, bound: float) -> str:
    return f"{prefix}:{bound!r}"


def bucket_field(prefix: str, bounds: tuple[float, ...], value: float) -> str:
    """The hash field of the bucket ``value`` falls in: ``<prefix>:<bound>`` or ``<prefix>:+Inf``.

    Prometheus buckets are "less than or equal", so the bucket is the first bound >= value.
    """
    index = bisect.bisect_left(bounds, value)
    return _bucket(prefix, bounds[index]) if index < len(bounds) else f"{prefix}:+Inf"


def cumulative(fields: dict[str, float], prefix: str, bounds: tuple[float, ...]) -> list[tuple[float, float]]:
    """Histogram ``prefix`` of ``read()``'s fields as Prometheus buckets: (bound, count <= bound).

    The last pair is (inf, count). Reading the count for +Inf keeps the histogram
    consistent even if the bounds change between deployments: an observation whose
    old bucket is gone still counts in +Inf and in the sum.
    """
    pairs, running = [], 0.0
    for bound in bounds:
        running += fields.get(_bucket(prefix, bound), 0.0)
        pairs.append((bound, running))
    pairs.append((float("inf"), fields.get(f"{prefix}:count", 0.0)))
    return pairs


def _record(fields: dict[str, float]) -> None:
    """Add each value to its field of ``HASH_KEY`` in one transaction; never raise."""
    global _failing
    try:
        pipe = redis_client(settings.REDIS_URL, _TIMEOUT).pipeline(transaction=True)
        for field, amount in fields.items():
            if isinstance(amount, int):
                pipe.hincrby(HASH_KEY, field, amount)
            else:
                pipe.hincrbyfloat(HASH_KEY, field, amount)
        pipe.execute()
    except redis.RedisError as exc:
        # Debug, and once per outage: Redis is also the broker and the limiter, so
        # when it is down the worker's own errors already say so, loudly.
        if not _failing:
            logger.debug("metrics not recorded, Redis unavailable: %s", exc)
        _failing = True
    else:
        _failing = False


_lock = threading.Lock()
_pending: collections.Counter = collections.Counter()
_timer: threading.Timer | None = None


def _add(fields: dict[str, float]) -> None:
    """Add ``fields`` to this process's pending observations; they are written within the flush interval."""
    global _timer
    interval = settings.MAILER_METRICS_FLUSH_SECONDS
    if interval <= 0:
        _record(fields)
        return
    with _lock:
        _pending.update(fields)
        if _timer is None:
            _timer = threading.Timer(interval, flush)
            _timer.daemon = True
            _timer.start()


def flush() -> None:
    """Write this process's pending observations to Redis now (also at exit)."""
    global _timer
    with _lock:
        fields = dict(_pending)
        _pending.clear()
        if _timer is not None:
            _timer.cancel()
            _timer = None
    if fields:
        _record(fields)


atexit.register(flush)


def record_send(*, latency_s: float, duration_s: float, priority: str) -> None:
    """Count one sent email: ``latency_s`` from created_at to accepted, ``duration_s`` of the send call.

    ``priority`` is the email's (``high`` or ``bulk``), a label of the latency histogram.
    Negative values (clocks of the web and worker machines apart) count as 0.
    """
    latency_s, duration_s = max(0.0, latency_s), max(0.0, duration_s)
    latency = f"latency:{priority}"
    _add(
        {
            bucket_field(latency, LATENCY_BUCKETS, latency_s): 1,
            f"{latency}:count": 1,
            f"{latency}:sum": latency_s,
            bucket_field("duration", DURATION_BUCKETS, duration_s): 1,
            "duration:count": 1,
            "duration:sum": duration_s,
        }
    )


def record_limiter_wait(seconds: float) -> None:
    """Count one sleep of ``seconds`` for a send slot; nothing for a wait of 0."""
    if seconds > 0:
        _add({"limiter_wait:count": 1, "limiter_wait:seconds": float(seconds)})


def limiter_sleep(seconds: float) -> None:
    """Sleep ``seconds`` until a send slot (the limiter's), and record the wait.

    Recording is made inside the wait and deducted from it, so it never moves the
    send away from its slot (the limiter's spacing relies on that).
    """
    deadline = time.monotonic() + seconds
    record_limiter_wait(seconds)
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def read() -> dict[str, float]:
    """Every field of ``HASH_KEY`` as floats (empty before the first recording).

    Raises redis.RedisError when Redis does not answer: the caller decides.
    """
    raw = redis_client(settings.REDIS_URL, _TIMEOUT).hgetall(HASH_KEY)
    return {field.decode(): float(value) for field, value in raw.items()}
