"""The sweeper (mailer.outbox.sweep): rows without a message published, dead claims taken back.

A worker process killed mid-batch loses nothing: its claims run out and the sweeper
publishes them again. Fault tests print their figures: run with ``-s`` to see them.
"""

from datetime import timedelta

from django.utils import timezone

from mailer.models import Email
from mailer.outbox.sweep import email_sweep
from tests.support.outbox import CONTEXT, TEMPLATE, all_final, delivery_report, queue_many
from tests.support.processes import WorkerProcess, broker
from tests.support.waits import wait_for
from worker import app


def test_sweeper_publishes_rows_without_a_message_and_takes_back_dead_claims(e2e, ses, settings):
    now = timezone.now()
    orphan = Email.objects.create(template=TEMPLATE, to="orphan@example.com", context=CONTEXT, next_attempt_at=now)
    abandoned = Email.objects.create(
        template=TEMPLATE, to="abandoned@example.com", context=CONTEXT, next_attempt_at=now,
        status=Email.Status.SENDING, attempts=1, lease_expires_at=now - timedelta(seconds=1), published_at=now,
    )
    in_broker = Email.objects.create(
        template=TEMPLATE, to="waiting@example.com", context=CONTEXT, next_attempt_at=now, published_at=now
    )
    counts = email_sweep()
    assert counts == {"reclaimed": 1, "due": 2, "published": 2}  # not the one whose message is on its way
    wait_for(lambda: Email.objects.filter(pk__in=[orphan.pk, abandoned.pk], status="sent").count() == 2)
    assert Email.objects.get(pk=in_broker.pk).status == Email.Status.QUEUED
    assert Email.objects.get(pk=abandoned.pk).attempts == 2


def test_worker_killed_mid_batch_loses_nothing(transactional_db, ses, private_redis, worker_env, settings):
    settings.MAILER_REPUBLISH_AFTER_SECONDS = 5  # messages the dead worker had prefetched
    ses.faults.delay = 0.03  # keep sends in flight
    with broker(app, private_redis.url):
        first = WorkerProcess(worker_env).start()
        try:
            queue_many(150)
            wait_for(lambda: Email.objects.filter(status="sent").count() >= 40, timeout=60)
            first.kill()
        finally:
            first.stop()
        in_flight = Email.objects.filter(status=Email.Status.SENDING).count()
        sent_before = Email.objects.filter(status=Email.Status.SENT).count()
        second = WorkerProcess(worker_env).start()
        try:
            all_final(timeout=120, sweep=True)
        finally:
            second.stop()
    report = delivery_report(ses, 150)
    print(f"\nworker SIGKILLed after {sent_before} sent, {in_flight} in flight:", report)
    assert report["lost"] == 0 and report["failed"] == 0
    assert Email.objects.filter(status=Email.Status.SENT).count() == 150
    assert report["duplicated"] <= in_flight
