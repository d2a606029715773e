"""Delivery of one row (mailer.outbox.delivery): sent once, retried when transient, failed when not.

End to end where a test takes ``e2e``: enqueue → commit → Redis → worker →
django-ses/SMTP → sink. Fault tests print their figures (sent, lost, duplicated,
failed): run with ``-s`` to see them.
"""

import threading

import pytest
from django.db import transaction
from django.utils import timezone

from mailer import api as mail
from mailer.models import Email, Suppression
from mailer.outbox import delivery, publish
from mailer.outbox.delivery import backoff_delay
from tests.support.outbox import CONTEXT, TEMPLATE, all_final, delivery_report, queue, queue_many, wait_final


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


def test_a_message_delivered_several_times_sends_once(e2e, ses):
    with transaction.atomic():
        (email,) = mail.enqueue(template=TEMPLATE, to="twice@example.com", context=CONTEXT)
        # The broker may deliver a message again (visibility timeout, worker lost):
        # simulate three duplicates racing the original.
        transaction.on_commit(lambda: publish.publish([email.pk] * 3, priority="bulk"))
    done = wait_final(email)
    publish.publish([email.pk], priority="bulk")  # and one more after it was sent
    wait_final(queue(to="marker@example.com"))
    assert done.status == Email.Status.SENT
    assert len(sent_to(ses.sent(), "twice@example.com")) == 1
    assert Email.objects.get(pk=email.pk).attempts == 1


def test_concurrent_deliveries_of_one_row_send_once(transactional_db, ses):
    # A row written without publishing, so that only these four threads race for it.
    email = Email.objects.create(template=TEMPLATE, to="race@example.com", context=CONTEXT, next_attempt_at=timezone.now())
    results = []
    barrier = threading.Barrier(4)

    def deliver():
        barrier.wait()
        results.append(delivery.email_deliver(email_id=email.pk))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [None, None, None, Email.Status.SENT]
    assert len(ses.sent()) == 1


# --- Errors: permanent, transient -----------------------------------------------------


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


def test_transient_errors_stop_after_max_attempts(e2e, ses, settings):
    settings.MAILER_MAX_ATTEMPTS = 3
    ses.faults.inject("throttling-v2", times=5)
    done = wait_final(queue())
    assert (done.status, done.attempts) == (Email.Status.FAILED, 3)
    assert "TooManyRequestsException" in done.last_error
    assert ses.sent() == []


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
