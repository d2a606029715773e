"""The mailer's Redis clients: one per URL and timeout, per process.

A redis.Redis holds a thread-safe connection pool, so the limiter, the metrics,
mailstats and the alerts share one instead of each opening its own connections.
"""

from functools import lru_cache

import redis


@lru_cache(maxsize=8)
def redis_client(url: str, timeout: float = 5.0) -> redis.Redis:
    """The client of ``url``: ``timeout`` seconds per command, at most 2 s to connect."""
    return redis.Redis.from_url(url, socket_connect_timeout=min(2.0, timeout), socket_timeout=timeout)
