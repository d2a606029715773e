"""kombu's Redis transport, with one redis.Redis per channel instead of one per command.

kombu's Redis channel builds a new ``redis.Redis`` for every publish, every
bookkeeping step of a late ack (QoS.append, ack) and every exchange lookup
(``conn_or_acquire``). redis-py 8 copies its table of ~170 response callbacks,
upper-casing every name, into each new client (redis/redis-py#3624): a sizeable
share of what publishing a task and handling a message cost (docs/performance.md).
The client only wraps the channel's connection pool, so one is as good as many: a
redis.Redis with a pool is thread-safe (every command checks a connection out of
the pool) and pipelines stay one per use. tests/worker/test_broker.py fails when
either library changes what this relies on.

``install()`` (called by worker/celery.py) makes kombu resolve ``redis://`` to this
transport in every process that loads the Celery app: web, worker, beat, Flower.
Through kombu's alias table rather than the ``broker_transport`` setting, so that
URLs keep their ``redis://`` scheme wherever they are shown or parsed again (the
worker's banner, Flower's broker page, a failover switch). ``rediss://`` and every
other scheme keep kombu's own transport, and its TLS defaults.
"""

from contextlib import contextmanager

from kombu import transport
from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        pool = self.pool  # a new pool after a fork or a reconnect: follow it
        shared = self._shared_client
        if shared is None or shared.connection_pool is not pool:
            # Two threads may both build one here; either serves.
            shared = self._shared_client = self._create_client()
        yield shared


class Transport(redis.Transport):
    Channel = Channel


def install() -> None:
    """Resolve ``redis://`` broker URLs to this transport in this process (idempotent)."""
    transport.TRANSPORT_ALIASES["redis"] = f"{__name__}:Transport"
