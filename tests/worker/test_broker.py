"""The Redis transport with one client per channel (worker/broker.py), on the real Redis."""

import threading

import redis as redis_py
from kombu import Connection, Queue
from kombu.transport import redis as kombu_redis

from worker import app, broker


def test_redis_urls_resolve_to_the_shared_client_transport_and_keep_their_scheme():
    with app.connection_for_write() as conn:
        assert isinstance(conn.default_channel, broker.Channel)
        assert conn.as_uri().startswith("redis://")  # what Flower and the banner parse
    with Connection("rediss://127.0.0.1:6380/0") as tls:  # never connected: only resolved
        assert type(tls.transport) is kombu_redis.Transport


def test_every_command_of_a_channel_goes_through_one_client(monkeypatch):
    built = []
    original = redis_py.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        queue = Queue("electnepal.test.broker", routing_key="electnepal.test.broker")
        with conn.Producer(channel) as producer:
            producer.publish({"n": 0}, routing_key=queue.routing_key, declare=[queue])  # the client exists
            monkeypatch.setattr(redis_py.Redis, "__init__", counting)
            for n in range(1, 21):
                producer.publish({"n": n}, routing_key=queue.routing_key)
        received = []
        with conn.SimpleQueue(queue) as simple:
            for _ in range(21):
                message = simple.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
        queue.bind(channel).delete()
    assert sorted(received) == list(range(21))
    # Stock kombu builds two per publish (exchange lookup, LPUSH) and two per ack.
    assert built == []


def test_threads_share_the_client_and_a_new_pool_gets_a_new_one():
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        with channel.conn_or_acquire() as first:
            pass
        seen = []

        def grab():
            with channel.conn_or_acquire() as client:
                seen.append(client)
                client.ping()

        threads = [threading.Thread(target=grab) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(client is first for client in seen)
        assert first.connection_pool is channel.pool

        channel._disconnect_pools()  # what kombu does after a fork
        with channel.conn_or_acquire() as client:
            assert client is not first
            assert client.connection_pool is channel.pool
            assert client.ping()


def test_stock_kombu_still_builds_a_redis_client_per_command_and_redis_py_still_copies_callbacks():
    """What worker/broker.py works around; when either stops being true, this fails and it can go.

    kombu's own channel makes a new ``redis.Redis`` in every ``conn_or_acquire`` (each
    publish, each late-ack bookkeeping step), and redis-py gives every new client its
    own copy of the response callbacks (redis/redis-py#3624): docs/performance.md.
    """
    with Connection(app.conf.broker_url, transport="kombu.transport.redis:Transport") as conn:
        channel = conn.default_channel
        assert type(channel) is kombu_redis.Channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is not second
            assert first.connection_pool is second.connection_pool
    pool = redis_py.ConnectionPool()
    one, two = redis_py.Redis(connection_pool=pool), redis_py.Redis(connection_pool=pool)
    assert one.response_callbacks is not two.response_callbacks
    assert len(one.response_callbacks) > 100
