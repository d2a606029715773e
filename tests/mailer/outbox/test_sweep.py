"""The sweep (mailer.outbox.sweep) and the keeper that runs it: nothing a dead worker held is lost.

A worker process killed in the middle of a burst loses nothing: its claims run out
(MAILER_LEASE_SECONDS, 3 s here), the keeper of a live worker takes them back and
rings, and they are sent; the only emails sent twice are ones SES had accepted
before the death. Fault tests print their figures: run with ``-s`` to see them.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mailer.models import Email
from mailer.outbox import doorbell
from mailer.outbox.sweep import email_sweep
from mailer.sending import breaker, limiter
from tests.support.outbox import CONTEXT, TEMPLATE, burst_through, delivery_report, queue_many
from tests.support.processes import WorkerProcess, broker
from tests.support.waits import wait_for
from worker import app


def row(**fields) -> Email:
    return Email.objects.create(
        **{"template": TEMPLATE, "context": CONTEXT, "next_attempt_at": timezone.now(), **fields}
    )


def test_the_sweep_takes_back_dead_claims_and_rings_for_due_email(e2e, ses):
    now = timezone.now()
    orphan = row(to="orphan@example.com")  # due, and no doorbell rang for it
    abandoned = row(
        to="abandoned@example.com",
        status=Email.Status.SENDING,
        attempts=1,
        claimed_by="gone:1:x",
        lease_expires_at=now - timedelta(seconds=1),
    )
    held = row(
        to="held@example.com",
        status=Email.Status.SENDING,
        attempts=1,
        claimed_by="alive:2:y",
        lease_expires_at=now + timedelta(seconds=60),
    )

    assert email_sweep() == {"reclaimed": 1, "rung": 1}
    wait_for(lambda: Email.objects.filter(pk__in=[orphan.pk, abandoned.pk], status="sent").count() == 2)
    assert Email.objects.get(pk=abandoned.pk).attempts == 2
    assert Email.objects.get(pk=held.pk).status == Email.Status.SENDING  # its worker is alive


@pytest.mark.parametrize("why", ["draining", "paused", "quota"])
def test_the_sweep_rings_only_when_nobody_sends(db, settings, why):
    row(to="due@example.com")
    if why == "draining":
        doorbell.draining("another:1:w", 30)
    elif why == "paused":
        settings.MAILER_PAUSE_AFTER_ERRORS = 1
        assert breaker.provider_failed("ServiceUnavailable: 503")
    else:
        settings.MAILER_MAX_24H_SEND = 1
        assert limiter.reserve(1).count == 1
    assert email_sweep() == {"reclaimed": 0, "rung": 0}


def test_with_only_the_security_reserve_left_the_sweep_rings_for_security_email_only(db, settings):
    settings.MAILER_MAX_24H_SEND = 5
    settings.MAILER_24H_SECURITY_RESERVE = 0.2
    assert limiter.reserve(4).count == 4  # bulk's share used up
    row(to="bulk@example.com")
    assert email_sweep() == {"reclaimed": 0, "rung": 0}
    row(to="reset@example.com", priority=Email.Priority.HIGH)
    assert email_sweep() == {"reclaimed": 0, "rung": 1}


def test_nothing_due_rings_nothing(db):
    row(to="later@example.com", next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert email_sweep() == {"reclaimed": 0, "rung": 0}


def sent_twice_after(ses, moment: float) -> list[str]:
    """Addresses SES accepted twice whose first acceptance came after ``moment``: duplicates not in flight."""
    first: dict[str, float] = {}
    count: dict[str, int] = {}
    for at, to in sorted(ses.faults.accepted):
        first.setdefault(to, at)
        count[to] = count.get(to, 0) + 1
    return [to for to, n in count.items() if n > 1 and first[to] > moment]


def test_a_worker_killed_mid_burst_loses_nothing(transactional_db, ses, private_redis, worker_env):
    ses.faults.delay = 0.05  # keep sends in flight
    env = worker_env  # leases of 3 s, a keeper every 0.5 s
    with broker(app, private_redis.url):
        survivor = WorkerProcess(env, name="survivor").start()
        victim = WorkerProcess(env, name="victim").start()
        try:
            queue_many(300)
            wait_for(lambda: Email.objects.filter(status="sent").count() >= 60, timeout=60)
            victim.kill()
            killed_at = time.time()
            held = Email.objects.filter(status="sending").exclude(claimed_by="").count()
            wait_for(lambda: not Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists(), timeout=60)
            last = time.time()
        finally:
            victim.kill()
            survivor.stop()
    report = delivery_report(ses, 300)
    print(f"\nworker SIGKILLed with {held} claims out:", report, f"last email {last - killed_at:.1f} s after the death")
    assert report["lost"] == 0 and report["failed"] == 0
    # A duplicate is only ever an email the dead worker had sent: its request was on the
    # wire at the death (SES's server may read it a moment later), never one that two
    # live workers both sent. The survivor's resends come a lease (3 s) later.
    assert sent_twice_after(ses, killed_at + 0.5) == []
    assert report["duplicated"] <= held


def test_a_killed_pool_process_is_replaced_and_its_claims_go_out(transactional_db, ses, private_redis, worker_env):
    ses.faults.delay = 0.05
    threads = 16  # what one pool process can have in flight, so at most what its death can send twice
    env = {**worker_env, "MAILER_SEND_THREADS": str(threads)}  # leases of 3 s, a keeper every 0.5 s
    with broker(app, private_redis.url):
        worker = WorkerProcess(env).start()
        try:
            queue_many(200)
            wait_for(lambda: Email.objects.filter(status="sent").count() >= 40, timeout=60)
            child = worker.children()[0]
            os.kill(child, signal.SIGKILL)  # one pool process dies; Celery starts another
            wait_for(lambda: not Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists(), timeout=60)
        finally:
            worker.stop()
    report = delivery_report(ses, 200)
    print("\none pool process SIGKILLed:", report)
    assert report["lost"] == 0 and report["failed"] == 0 and report["duplicated"] <= threads


@pytest.mark.parametrize("appendonly", [True, False], ids=["redis-keeps-its-data", "redis-loses-its-data"])
def test_redis_restarted_mid_burst_loses_nothing(transactional_db, ses, worker_env, appendonly):
    """Broker, doorbell and limiter all live in Redis: a restart delays email, never loses or doubles it."""
    from tests.support.processes import RedisServer

    ses.faults.delay = 0.02
    redis_server = RedisServer(appendonly=appendonly).start()
    env = {**worker_env, "REDIS_URL": redis_server.url}
    try:
        with broker(app, redis_server.url):
            worker = WorkerProcess(env).start()
            try:
                # Down 2 s: the workers' Redis calls fail meanwhile.
                after = burst_through(lambda: redis_server.restart(down_for=2), timeout=60)
            finally:
                worker.stop()
    finally:
        redis_server.cleanup()
    report = delivery_report(ses, 300)
    print(
        f"\nRedis restarted ({'data kept' if appendonly else 'data lost'}):",
        report,
        f"last email {after:.1f} s after Redis was back",
    )
    assert report["lost"] == 0 and report["failed"] == 0
    # Sends in flight are recorded in PostgreSQL, not Redis: nothing is sent twice.
    assert report["duplicated"] == 0


def test_a_doorbell_lost_with_its_worker_does_not_hold_up_the_next(db, redis_client):
    """A doorbell marked "on its way" whose message went down with a cut-off host (unacked):
    while nobody sends, the sweep rings anew once it is a few seconds overdue, not after its TTL."""
    row(to="due@example.com")
    assert doorbell.ring()  # its message is never answered: no worker runs here
    assert email_sweep()["rung"] == 0  # just rung: it may still be answered
    assert redis_client.pttl(doorbell.PENDING_KEY) > 50_000  # MAILER_DOORBELL_TTL_SECONDS: 60 s to wait
    redis_client.set(doorbell.PENDING_KEY, time.time() - 5, keepttl=True)  # was due 5 s ago, on Redis's clock
    assert email_sweep()["rung"] == 1
    assert email_sweep()["rung"] == 0  # one ring per few seconds, however many keepers look
