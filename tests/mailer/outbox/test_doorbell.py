"""The doorbell (mailer.outbox.doorbell): one message that carries nothing, rung on commit, coalesced.

- a process that is only Django (a web server, a shell, a command) rings too;
- a message carries a task name and nothing else (address requests: their id);
- many emails committed before a worker answers ring once; a burst of commits in one
  process costs a few calls to Redis, not one each;
- a broker down at commit delays email but loses none: a worker's keeper rings later;
- a wait longer than a countdown may safely be stays in the outbox;
- security email goes first: a bulk backlog does not hold up a password reset.

Fault tests print their figures: run with ``-s`` to see them.
"""

import base64
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from unittest import mock

import redis
from celery import current_app
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import AddressRequest
from mailer.models import Email
from mailer.outbox import doorbell
from mailer.outbox.sweep import email_sweep
from tests.support.accounts import handle_address_requests, signup
from tests.support.database import database_url
from tests.support.outbox import all_final, delivery_report, queue, queue_many, wait_final
from tests.support.processes import RedisServer, WorkerProcess, broker
from tests.support.waits import wait_for
from worker import app

SCRIPT = """
import django
django.setup()
from django.db import transaction
from mailer import api
with transaction.atomic():
    api.enqueue(template="accounts/email/welcome", to="web@example.com",
                context={"first_name": "Web", "username": "web", "login_url": "https://electnepal.test/"})
"""


def test_an_email_queued_by_a_plain_django_process_reaches_the_worker(e2e, ses):
    # Such a process never imports the worker package itself: the Celery app must
    # come with Django, or the doorbell would go to Celery's default broker.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "electnepal.settings",
        "DATABASE_URL": database_url(connection),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, cwd=settings.BASE_DIR, timeout=60)
    email = Email.objects.get(to="web@example.com")
    assert wait_final(email).status == Email.Status.SENT
    assert [m["To"] for m in ses.sent()] == ["web@example.com"]


def _messages(url: str) -> list[dict]:
    doorbell.flush()  # the rings the commits handed to the background thread
    return [json.loads(raw) for raw in redis.Redis.from_url(url).lrange(settings.MAILER_QUEUE, 0, -1)]


def test_messages_on_the_broker_carry_nothing_but_a_task_name(transactional_db):
    """What Flower and anyone with broker access see: no address, no link, not even a row id."""
    private = RedisServer().start()  # no worker listens: the messages stay for us to read
    try:
        with broker(app, private.url):
            client = Client()
            assert signup(client).status_code == 302
            assert client.post("/auth/forgot-password/", {"email": "sita@example.com"}).status_code == 302
            request_ids = list(AddressRequest.objects.values_list("pk", flat=True))
            assert handle_address_requests() == 1  # as the worker would: queues the reset email
            messages = _messages(private.url)
    finally:
        private.cleanup()
    assert Email.objects.count() == 2  # the verification email and the reset link
    published = {"mailer.deliver": [], "accounts.address_request": []}
    for message in messages:
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert kwargs == {}
        published[message["headers"]["task"]].append(args)
        text = json.dumps(message) + base64.b64decode(message["body"]).decode()
        assert "example.com" not in text and "sita" not in text.lower() and "/auth/" not in text
    # Two emails, one doorbell: the second found the first still on its way.
    assert published["mailer.deliver"] == [[]]
    # The forgot-password post itself publishes only its request's id.
    assert published["accounts.address_request"] == [request_ids] and len(request_ids) == 1


def test_emails_committed_before_a_worker_answers_ring_once(transactional_db):
    private = RedisServer().start()
    try:
        with broker(app, private.url):
            for i in range(30):
                queue(to=f"burst{i}@example.com")  # thirty transactions
            assert len(_messages(private.url)) == 1
            doorbell.answered()  # a worker took it: the next email rings again
            queue(to="after@example.com")
            assert [m["headers"]["task"] for m in _messages(private.url)] == ["mailer.deliver"] * 2
    finally:
        private.cleanup()


def test_doorbells_rung_many_times_send_each_email_once(e2e, ses):
    emails = queue_many(20, prefix="twice")
    for _ in range(5):  # the broker may deliver a message again (visibility timeout, worker lost)
        current_app.send_task(doorbell.DOORBELL_TASK, queue=settings.MAILER_QUEUE)
    all_final()
    current_app.send_task(doorbell.DOORBELL_TASK, queue=settings.MAILER_QUEUE)  # and one after they were sent
    wait_final(queue(to="marker@example.com"))
    report = delivery_report(ses, 21)
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert set(Email.objects.filter(pk__in=[e.pk for e in emails]).values_list("attempts", flat=True)) == {1}


def test_a_request_does_not_wait_for_the_ring(transactional_db, monkeypatch):
    """The commit hands the ring to a background thread: Redis is never on the request's path."""
    import threading

    release = threading.Event()
    rung = []
    monkeypatch.setattr(doorbell, "ring", lambda **kw: (release.wait(10), rung.append(1)))
    started = time.monotonic()
    queue(to="fast@example.com")  # the commit, and its on-commit hook
    assert time.monotonic() - started < 5 and rung == []  # returned while the ring still waits
    release.set()
    assert doorbell.flush() and rung == [1]


def test_a_burst_of_commits_costs_a_few_rings_and_each_commit_is_followed_by_one(transactional_db, settings):
    """One ring covers the commits before it: rings are RING_SPACING apart, not one per request."""
    private = RedisServer().start()
    settings.REDIS_URL = private.url  # the doorbell's own key and script, on a server only this test uses
    ring, rings = doorbell.ring, []

    def timed_ring(**kwargs):
        rings.append(time.monotonic())
        return ring(**kwargs)

    try:
        with broker(app, private.url), mock.patch.object(doorbell, "ring", timed_ring):
            doorbell.flush()
            commits = []
            started = time.monotonic()
            for i in range(60):
                queue(to=f"burst{i}@example.com")
                commits.append(time.monotonic())  # after the commit and its on-commit hook
            elapsed = time.monotonic() - started
            assert doorbell.flush()
        calls = redis.Redis.from_url(private.url).info("commandstats")["cmdstat_evalsha"]["calls"]
    finally:
        private.cleanup()
    bound = elapsed / doorbell.RING_SPACING + 2
    assert len(rings) <= bound and calls <= bound + 1, (len(rings), calls, elapsed)  # +1: loading the script
    # Every commit has a ring that started after it, within RING_SPACING (and scheduling) of it.
    assert rings[-1] >= commits[-1]
    assert all(any(0 <= r - c < doorbell.RING_SPACING + 0.5 for r in rings) for c in commits)


def test_broker_down_at_ring_time_loses_nothing_and_does_not_raise(transactional_db, settings):
    private = RedisServer().start()
    try:
        with broker(app, private.url):
            private.stop()
            started = time.monotonic()
            assert doorbell.ring() is False
            email = queue(to="later@example.com")
            assert time.monotonic() - started < 10  # bounded by the client's timeouts
        assert Email.objects.get(pk=email.pk).status == Email.Status.QUEUED
    finally:
        private.cleanup()


def test_redis_down_at_commit_delays_but_loses_nothing(transactional_db, ses, private_redis, worker_env, settings):
    settings.CELERY_BROKER_URL = private_redis.url  # what /healthz/ checks
    with broker(app, private_redis.url):
        worker = WorkerProcess(worker_env).start()
        try:
            private_redis.stop()
            client = Client()
            slowest = 0.0
            for i in range(10):
                started = time.monotonic()
                response = client.post(
                    "/auth/signup/",
                    {
                        "username": f"voter{i}",
                        "email": f"voter{i}@example.com",
                        "password1": "kathmandu-2082-x",
                        "password2": "kathmandu-2082-x",
                    },
                )
                slowest = max(slowest, time.monotonic() - started)
                assert response.status_code == 302 and response["Location"] == "/auth/login/"
            health = client.get("/healthz/")
            assert health.status_code == 503 and health.json()["down"] == ["broker"]
            assert Email.objects.filter(status="queued").count() == 10
            private_redis.start()
            # Nothing rang for these ten: the worker's keeper finds them due and rings.
            all_final(timeout=60)
        finally:
            worker.stop()
    report = delivery_report(ses, 10)
    print(f"\nRedis down for 10 sign-ups (slowest request {slowest * 1000:.0f} ms):", report)
    assert report["delivered"] == 10 and report["lost"] == 0 and report["duplicated"] == 0


def test_long_waits_stay_in_the_outbox(e2e, ses):
    # A daily-quota throttle defers by minutes: the row waits in the outbox with its
    # next attempt in the future, no message on the broker, and goes when due.
    ses.faults.inject("daily-quota-v2")
    (email,) = queue_many(1)
    wait_for(lambda: Email.objects.filter(pk=email.pk, status="queued", attempts=1).exists())
    email.refresh_from_db()
    assert email.next_attempt_at - timezone.now() > timedelta(minutes=14)
    assert email_sweep() == {"reclaimed": 0, "rung": 0}  # not due: nothing to ring for
    Email.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert email_sweep()["rung"] == 1
    all_final()
    assert Email.objects.get(pk=email.pk).status == Email.Status.SENT


def test_a_bulk_backlog_does_not_hold_up_a_password_reset(e2e, ses, settings):
    settings.MAILER_MAX_SEND_RATE = 10
    queue_many(40, prefix="bulk")
    wait_for(lambda: len(ses.faults.accepted_at) >= 5)
    (urgent,) = queue_many(1, prefix="reset", priority="high")
    wait_for(lambda: Email.objects.filter(pk=urgent.pk, status="sent").exists())
    urgent.refresh_from_db()
    bulk_before = Email.objects.filter(priority="bulk", sent_at__gt=urgent.created_at, sent_at__lt=urgent.sent_at)
    latency = (urgent.sent_at - urgent.created_at).total_seconds()
    print(
        f"\npriority: reset sent {latency * 1000:.0f} ms after it was queued, "
        f"{bulk_before.count()} bulk sends in between"
    )
    # At most the bulk sends already holding the next slots (MAILER_CLAIM_HORIZON_SECONDS
    # at 10 per second: one or two) go first; the rest of the backlog waits.
    assert bulk_before.count() <= 2
    assert Email.objects.filter(priority="bulk").exclude(status="sent").count() > 20  # the backlog was still there
    settings.MAILER_MAX_SEND_RATE = 1000
    all_final()  # drain, so that no task outlives the test
