"""Publishing delivery tasks (mailer.outbox.publish): from any Django process, row ids only, on time.

- a process that is only Django (a web server, a shell, a command) publishes too;
- a message carries a task name and a row id, nothing else;
- a wait longer than a countdown may safely be stays in the outbox, for the sweeper;
- a broker down at commit delays email but loses none;
- high priority has its own queue: a bulk backlog does not hold up a password reset.

Fault tests print their figures: run with ``-s`` to see them.
"""

import os
import subprocess
import sys
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from mailer.models import Email
from mailer.outbox.sweep import email_sweep
from tests.support.outbox import all_final, delivery_report, queue_many, wait_final
from tests.support.processes import WorkerProcess, broker
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
    # come with Django, or the task would go to Celery's default broker.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "electnepal.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, cwd=settings.BASE_DIR, timeout=60)
    email = Email.objects.get(to="web@example.com")
    assert wait_final(email).status == Email.Status.SENT
    assert [m["To"] for m in ses.sent()] == ["web@example.com"]


def test_messages_on_the_broker_carry_only_the_row_id(transactional_db, settings):
    """What Flower and anyone with broker access see: a task name and an id, no address or link."""
    import base64
    import json

    import redis
    from django.test import Client

    from accounts.models import AddressRequest
    from tests.support.accounts import handle_address_requests, signup
    from tests.support.processes import RedisServer, broker
    from worker import app

    private = RedisServer().start()  # no worker listens: the messages stay for us to read
    try:
        with broker(app, private.url):
            client = Client()
            assert signup(client).status_code == 302
            assert client.post("/auth/forgot-password/", {"email": "sita@example.com"}).status_code == 302
            request_ids = list(AddressRequest.objects.values_list("pk", flat=True))
            assert handle_address_requests() == 1  # as the worker would: queues the reset email
        raw = redis.Redis.from_url(private.url).lrange(settings.MAILER_QUEUES["high"], 0, -1)
    finally:
        private.cleanup()
    ids = sorted(Email.objects.values_list("pk", flat=True))
    assert len(ids) == 2  # the verification email and the reset link
    published = {"mailer.deliver": [], "accounts.address_request": []}
    for message in map(json.loads, raw):
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert kwargs == {} and message["headers"]["argsrepr"] == f"({args[0]},)"
        published[message["headers"]["task"]].extend(args)
        text = json.dumps(message) + base64.b64decode(message["body"]).decode()
        assert "example.com" not in text and "sita" not in text.lower() and "/auth/" not in text
    assert sorted(published["mailer.deliver"]) == ids
    # The forgot-password post itself publishes only its request's id.
    assert published["accounts.address_request"] == request_ids and len(request_ids) == 1


def test_long_waits_stay_in_the_outbox_not_in_a_countdown(e2e, ses, settings):
    # A daily-quota throttle defers by minutes: longer than a countdown may safely be
    # (an ETA beyond Redis's visibility timeout is delivered twice), so the row is not
    # published; the sweeper publishes it once it is due.
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 600}
    ses.faults.inject("daily-quota-v2")
    (email,) = queue_many(1)
    wait_for(lambda: Email.objects.filter(pk=email.pk, status="queued", attempts=1).exists())
    email.refresh_from_db()
    assert email.published_at is None
    assert email.next_attempt_at - timezone.now() > timedelta(minutes=14)
    assert email_sweep()["due"] == 0
    Email.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert email_sweep()["published"] == 1
    all_final()
    assert Email.objects.get(pk=email.pk).status == Email.Status.SENT


def test_redis_down_at_commit_delays_but_loses_nothing(transactional_db, ses, private_redis, worker_env, settings):
    import time

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
                    {"username": f"voter{i}", "email": f"voter{i}@example.com", "password1": "kathmandu-2082-x",
                     "password2": "kathmandu-2082-x"},
                )
                slowest = max(slowest, time.monotonic() - started)
                assert response.status_code == 302 and response["Location"] == "/auth/login/"
            health = client.get("/healthz/")
            assert health.status_code == 503 and health.json()["down"] == ["broker"]
            assert Email.objects.filter(status="queued", published_at__isnull=True).count() == 10
            private_redis.start()
            all_final(timeout=120, sweep=True)
        finally:
            worker.stop()
    report = delivery_report(ses, 10)
    print(f"\nRedis down for 10 sign-ups (slowest request {slowest * 1000:.0f} ms):", report)
    assert report["delivered"] == 10 and report["lost"] == 0 and report["duplicated"] == 0


def test_a_bulk_backlog_does_not_hold_up_a_password_reset(e2e, ses, settings):
    settings.MAILER_MAX_SEND_RATE = 10
    queue_many(40, prefix="bulk")
    wait_for(lambda: len(ses.faults.accepted_at) >= 5)
    (urgent,) = queue_many(1, prefix="reset", priority="high")
    wait_for(lambda: Email.objects.filter(pk=urgent.pk, status="sent").exists())
    urgent.refresh_from_db()
    bulk_before = Email.objects.filter(priority="bulk", sent_at__gt=urgent.created_at, sent_at__lt=urgent.sent_at)
    latency = (urgent.sent_at - urgent.created_at).total_seconds()
    print(f"\npriority: reset sent {latency * 1000:.0f} ms after it was queued, {bulk_before.count()} bulk sends in between")
    # At most the bulk send that frees a worker thread and the one already holding
    # the next send slot go first; the rest of the backlog waits.
    assert bulk_before.count() <= 2
    assert Email.objects.filter(priority="bulk").exclude(status="sent").count() > 20  # the backlog was still there
    settings.MAILER_MAX_SEND_RATE = 1000
    all_final()  # drain, so that no task outlives the test
