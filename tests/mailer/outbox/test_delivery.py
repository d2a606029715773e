"""Delivery (mailer.outbox.delivery): due email claimed in batches, sent once, retried when transient.

End to end where a test takes ``e2e``: enqueue → commit → doorbell → worker → claim
→ django-ses/SMTP → sink. Fault tests print their figures (sent, lost, duplicated,
failed): run with ``-s`` to see them.
"""

import threading
import time

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailer.models import Email, Suppression
from mailer.outbox import state
from mailer.outbox.delivery import Dispatcher, backoff_delay
from mailer.sending import breaker
from tests.support.database import database_url
from tests.support.outbox import (
    CONTEXT,
    all_final,
    burst_through,
    delivery_report,
    due_rows,
    queue,
    queue_many,
    wait_final,
)
from tests.support.processes import WorkerProcess, broker
from tests.support.proxy import TCPProxy
from tests.support.waits import wait_for
from worker import app


def sent_to(messages, address):
    return [m for m in messages if m["To"] == address]


def test_committed_email_is_sent_through_ses(e2e, ses):
    email = queue()
    done = wait_final(email)
    assert done.status == Email.Status.SENT
    assert done.attempts == 1
    assert done.message_id  # SES's MessageId, recorded
    assert done.sent_at is not None
    # The plain context stays for the admin's email log; the secret part goes at the final state.
    assert done.context == CONTEXT and done.secret_context == ""
    (message,) = ses.sent()
    assert message["Subject"] == "[ElectNepal] Welcome to ElectNepal"
    assert message["To"] == "sita@example.com"
    assert message.get_body(("plain",)).get_content().count("https://electnepal.test/auth/login/") == 1
    assert "https://electnepal.test/auth/login/" in message.get_body(("html",)).get_content()


def test_workers_draining_at_once_send_each_email_once(transactional_db, ses):
    """Four worker processes (Dispatchers) answering doorbells at the same moment."""
    due_rows(60, prefix="race")
    tallies = []
    barrier = threading.Barrier(4)

    def drain():
        barrier.wait()
        tallies.append(Dispatcher().drain(budget=10))
        connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    report = delivery_report(ses, 60)
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert sum(t.get("sent", 0) for t in tallies) == 60
    assert set(Email.objects.values_list("status", "attempts", "claimed_by")) == {("sent", 1, "")}


def test_a_drain_claims_and_records_in_batches(transactional_db, ses, settings, monkeypatch):
    settings.MAILER_SEND_THREADS = 8
    # A full claim invites another worker (the suite's own would answer): this drain alone, here.
    monkeypatch.setattr("mailer.outbox.delivery.doorbell.ring", lambda **kwargs: False)
    due_rows(64)
    with CaptureQueriesContext(connection) as queries:
        tally = Dispatcher().drain(budget=20)
    assert tally["sent"] == 64 and tally["claimed"] == 64
    statements = [q["sql"] for q in queries]
    claims = [sql for sql in statements if "SKIP LOCKED" in sql]
    records = [sql for sql in statements if sql.startswith("UPDATE") and "unnest" in sql]
    print(f"\n64 emails, 8 threads: {len(claims)} claims, {len(records)} send records")
    # Threads are handed emails as they come free, a few at a time, and sends are
    # recorded as they come back: fewer statements than emails, where each email
    # took a claim and a record of its own.
    assert len(claims) <= 32 and len(records) < 64
    writes = [sql for sql in statements if sql.startswith(("UPDATE", "WITH", "INSERT", "DELETE"))]
    assert len(writes) == len(claims) + len(records)  # nothing else is written per email


def test_a_worker_that_cannot_trust_its_lease_claims_nothing_and_sends_nothing(transactional_db, ses, monkeypatch):
    (email,) = due_rows(1)
    dispatcher = Dispatcher()
    # Its keeper runs but lost the database: the last renewal is long past.
    monkeypatch.setattr(dispatcher, "_keeper", object())
    dispatcher._lease_until = time.monotonic() - 1
    assert dispatcher.drain(budget=2) == {"lease_unsure": 1}
    email.refresh_from_db()
    assert (email.status, email.attempts, email.claimed_by) == (Email.Status.QUEUED, 0, "")
    # A sender whose claim's lease ran out before its send gives the email back unsent.
    (claimed,) = state.claim_due(limit=1, owner=dispatcher.owner)
    attempt = dispatcher._attempt(claimed, time.monotonic(), claimed_at=time.monotonic() - 3600)
    assert attempt.given_back == "lease not renewed" and attempt.message_id == ""
    assert ses.faults.send_requests == 0


def test_permanent_error_fails_at_once(e2e, ses, settings):
    settings.DEFAULT_FROM_EMAIL = "ElectNepal <unverified@electnepal.test>"  # moto: MessageRejected
    email = queue()
    done = wait_final(email)
    assert done.status == Email.Status.FAILED
    assert done.attempts == 1
    assert done.last_error.startswith("MessageRejected")
    assert ses.faults.send_requests == 1
    assert ses.sent() == []


@pytest.mark.parametrize("fault", ["throttling-v2", "unavailable"])
def test_transient_error_is_retried_and_delivered(e2e, ses, fault):
    ses.faults.inject(fault, times=1)
    email = queue()
    done = wait_final(email)
    assert done.status == Email.Status.SENT
    assert done.attempts == 2
    # botocore's own retries are off: exactly one request per attempt.
    assert ses.faults.send_requests == 2
    assert len(ses.sent()) == 1


def test_ses_v1_throttling_is_retried(e2e, ses, settings):
    settings.USE_SES_V2 = False
    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    ses.faults.inject("throttling-v1", times=2)
    email = queue()
    done = wait_final(email)
    assert (done.status, done.attempts) == (Email.Status.SENT, 3)


def test_an_emails_own_transient_errors_stop_after_max_attempts(e2e, smtp, settings):
    settings.MAILER_MAX_ATTEMPTS = 3
    for _ in range(5):
        smtp.refuse_next("452 4.2.2 Mailbox full")
    done = wait_final(queue())
    assert (done.status, done.attempts) == (Email.Status.FAILED, 3)
    assert done.last_error.startswith("SMTP 452")


def test_provider_errors_do_not_use_up_an_emails_attempts(e2e, ses, settings):
    """SES throttling or down is nobody's email's fault: the workers pause, the email waits."""
    settings.MAILER_MAX_ATTEMPTS = 3
    ses.faults.inject("throttling-v2", times=6)
    done = wait_final(queue())
    assert (done.status, done.attempts) == (Email.Status.SENT, 7)
    assert [e["provider"] for e in done.errors] == [True] * 6 and state.own_failures(done) == 0


def test_provider_errors_in_a_row_pause_every_worker(e2e, ses, settings):
    settings.MAILER_PAUSE_AFTER_ERRORS = 3
    settings.MAILER_PAUSE_BASE_SECONDS = 1.0
    ses.faults.inject("unavailable", times=3)
    queue_many(1, prefix="first")
    wait_for(lambda: breaker.paused()[0] > 0, message="the breaker to open")
    requests = ses.faults.send_requests
    queue_many(5, prefix="during")
    time.sleep(0.3)
    assert breaker.paused()[0] > 0 and ses.faults.send_requests == requests  # nothing is claimed while paused
    all_final(timeout=30)  # the doorbell the drain left for the end of the pause
    assert Email.objects.filter(status="sent").count() == 6


def test_a_paused_ses_account_holds_email_back_and_alerts_instead_of_failing_it(e2e, ses, settings):
    from mailer.ops import alerts

    settings.MAILER_PAUSE_CAP_SECONDS = 2.0
    ses.faults.inject("paused-v2", times=1)
    first = queue(to="first@example.com")
    wait_for(lambda: breaker.paused()[0] > 0, message="every worker to pause at once")
    # The pause is set before the attempt is recorded (mailer.outbox.delivery._failed): wait for the record.
    wait_for(lambda: Email.objects.get(pk=first.pk).status != Email.Status.SENDING, message="the attempt's record")
    assert Email.objects.get(pk=first.pk).status == Email.Status.QUEUED  # waits: not the email's fault
    (problem,) = [p for p in alerts.find_problems() if p.kind == "provider"]
    assert "SES has stopped this account's sending" in problem.message
    others = queue_many(3, prefix="during")
    done = wait_final(first)  # the probe after the pause goes through: SES sends again
    all_final(timeout=30)
    assert (done.status, done.attempts) == (Email.Status.SENT, 2) and state.own_failures(done) == 0
    assert set(Email.objects.filter(pk__in=[e.pk for e in others]).values_list("status", flat=True)) == {"sent"}


def test_smtp_4xx_is_retried_and_5xx_fails(e2e, smtp):
    smtp.refuse_next("451 4.3.0 Try again later")
    retried = wait_final(queue(to="retry@example.com"))
    assert (retried.status, retried.attempts) == (Email.Status.SENT, 2)
    smtp.refuse_next("554 5.7.1 Rejected")
    failed = wait_final(queue(to="reject@example.com"))
    assert (failed.status, failed.attempts) == (Email.Status.FAILED, 1)
    assert failed.last_error.startswith("SMTP 554")


def test_flaky_ses_delivers_everything_exactly_once(e2e, ses, settings):
    settings.MAILER_MAX_ATTEMPTS = 12
    ses.faults.set_rates(throttling_v2=0.30, unavailable=0.05, seed=2082)
    queue_many(300)
    all_final()
    report = delivery_report(ses, 300)
    print("\nflaky SES (30% throttling, 5% 503):", report, dict(ses.faults.faults_answered))
    assert report["delivered"] == 300 and report["lost"] == 0
    assert report["duplicated"] == 0 and report["failed"] == 0
    assert ses.faults.faults_answered["throttling-v2"] > 50  # the faults really happened
    assert report["attempts"] == 300 + sum(ses.faults.faults_answered.values())


def test_permanent_rejects_are_tried_once(e2e, ses):
    ses.faults.inject("rejected-v2", times=5)
    emails = queue_many(5, prefix="rejected")
    all_final()
    for email in Email.objects.filter(pk__in=[e.pk for e in emails]):
        assert (email.status, email.attempts) == (Email.Status.FAILED, 1)
        assert email.errors[0]["transient"] is False and "MessageRejected" in email.errors[0]["error"]
    assert ses.faults.send_requests == 5


def test_backoff_is_full_jitter_exponential_and_capped(settings):
    settings.MAILER_RETRY_BASE_SECONDS = 10
    settings.MAILER_RETRY_CAP_SECONDS = 300
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (6, 300), (20, 300)]:
        delays = [backoff_delay(attempt) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # spread over [0, ceiling]


# --- Not sent -------------------------------------------------------------------------


def test_suppressed_address_is_not_sent(e2e, ses):
    Suppression.objects.create(address="Bounced@Example.com", reason=Suppression.Reason.BOUNCE)
    done = wait_final(queue(to="bounced@example.com"))
    assert done.status == Email.Status.SUPPRESSED
    assert ses.faults.send_requests == 0


def test_email_past_its_expiry_is_not_sent(e2e, ses):
    done = wait_final(queue(expires_at=timezone.now()))
    assert done.status == Email.Status.EXPIRED
    assert ses.faults.send_requests == 0


def test_postgresql_cut_off_mid_burst_loses_nothing_and_sends_nothing_twice(transactional_db, ses, worker_env):
    """The workers' database goes away for 3 s (a restart, as they see it) and comes back.

    The sends in flight at the cut went through; their outcomes are written once the
    database answers again, within the lease (10 s here, 30 s as shipped): none is sent twice.
    """
    ses.faults.delay = 0.02
    proxy = TCPProxy(int(connection.settings_dict["PORT"] or 5432)).start()
    env = {
        **worker_env,
        "DATABASE_URL": database_url(connection, host="127.0.0.1", port=proxy.port),
        "MAILER_LEASE_SECONDS": "10",
    }
    try:
        with broker(app, worker_env["REDIS_URL"]):
            worker = WorkerProcess(env).start()
            try:
                after = burst_through(lambda: (proxy.cut(3), time.sleep(3)))
            finally:
                worker.stop()
    finally:
        proxy.stop()
    report = delivery_report(ses, 300)
    print("\nPostgreSQL cut off for 3 s:", report, f"last email {after:.1f} s after it was back")
    assert report["lost"] == 0 and report["failed"] == 0 and report["duplicated"] == 0
