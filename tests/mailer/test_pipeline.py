"""The outbox end to end: enqueue → commit → Redis → worker → django-ses/SMTP → sink."""

import threading

import pytest
from django.db import transaction
from django.utils import timezone

from mailer import api as mail
from mailer.outbox import delivery as services
from mailer.outbox import publish
from mailer.models import Email, Suppression
from tests.conftest import wait_for

TEMPLATE = "accounts/email/welcome"
CONTEXT = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}


def queue(to="sita@example.com", **kwargs) -> Email:
    with transaction.atomic():
        (email,) = mail.enqueue(template=TEMPLATE, to=to, context=CONTEXT, **kwargs)
    return email


def wait_final(email: Email) -> Email:
    return wait_for(
        lambda: Email.objects.filter(pk=email.pk, status__in=Email.FINAL_STATUSES).first(),
        message=f"email {email.pk} to reach a final state",
    )


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


def test_each_attempt_is_logged(e2e, ses, settings):
    email = queue()
    wait_final(email)

    def logged():
        # The row turns final a moment before the worker writes its log line.
        log = (settings.LOG_DIR / "email.log").read_text()
        return [line for line in log.splitlines() if f"email={email.pk} " in line]

    (line,) = wait_for(logged, message=f"email {email.pk} to be logged")
    assert "sent successfully" in line and "kind=welcome" in line
    assert "sita@example.com" not in line  # masked


def test_rollback_leaves_neither_row_nor_email(e2e, ses):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            mail.enqueue(template=TEMPLATE, to="ghost@example.com", context=CONTEXT)
            raise RuntimeError("the caller's change failed")
    assert not Email.objects.filter(to="ghost@example.com").exists()
    # A later email passes through the same queue: once it has arrived, anything
    # published for the rolled-back one would have arrived too.
    wait_final(queue(to="marker@example.com"))
    assert [m["To"] for m in ses.sent()] == ["marker@example.com"]


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
        results.append(services.email_deliver(email_id=email.pk))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [None, None, None, Email.Status.SENT]
    assert len(ses.sent()) == 1


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


def test_email_through_smtp(e2e, smtp):
    done = wait_final(queue(to="smtp@example.com"))
    assert done.status == Email.Status.SENT
    assert done.message_id.startswith("<")  # our Message-ID
    (message,) = smtp.messages
    assert message["Subject"] == "[ElectNepal] Welcome to ElectNepal"
    assert message["Message-ID"] == done.message_id


def test_smtp_4xx_is_retried_and_5xx_fails(e2e, smtp):
    smtp.refuse_next("451 4.3.0 Try again later")
    retried = wait_final(queue(to="retry@example.com"))
    assert (retried.status, retried.attempts) == (Email.Status.SENT, 2)
    smtp.refuse_next("554 5.7.1 Rejected")
    failed = wait_final(queue(to="reject@example.com"))
    assert (failed.status, failed.attempts) == (Email.Status.FAILED, 1)
    assert failed.last_error.startswith("SMTP 554")


def test_suppressed_address_is_not_sent(e2e, ses):
    Suppression.objects.create(address="Bounced@Example.com", reason=Suppression.Reason.BOUNCE)
    done = wait_final(queue(to="bounced@example.com"))
    assert done.status == Email.Status.SUPPRESSED
    assert ses.faults.send_requests == 0


def test_email_past_its_expiry_is_not_sent(e2e, ses):
    done = wait_final(queue(expires_at=timezone.now()))
    assert done.status == Email.Status.EXPIRED
    assert ses.faults.send_requests == 0


def test_one_connection_per_thread_and_one_boto3_client_per_process(transactional_db, ses, settings):
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config

    from mailer.sending import transport

    emails = [
        Email.objects.create(template=TEMPLATE, to=f"reuse{i}@example.com", context=CONTEXT, next_attempt_at=timezone.now())
        for i in range(6)
    ]
    connections, clients = [], []
    for email in emails[:3]:
        assert services.email_deliver(email_id=email.pk) == Email.Status.SENT
        connections.append(transport.connection())
        clients.append(transport.connection().connection)  # django-ses's boto3 client
    assert connections[0] is connections[1] is connections[2]
    assert clients[0] is clients[1] is clients[2]

    def deliver_in_a_thread(email):
        try:
            return services.email_deliver(email_id=email.pk), transport.connection(), transport.connection().connection
        finally:
            from django.db import connection

            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(deliver_in_a_thread, emails[3:5]))
    assert [status for status, _, _ in results] == [Email.Status.SENT] * 2
    # Each thread its own backend object, every thread the process's one boto3 client.
    assert all(conn is not connections[0] for _, conn, _ in results)
    assert all(client is clients[0] for _, _, client in results)

    settings.AWS_SES_CONFIG = settings.AWS_SES_CONFIG.merge(Config(read_timeout=14))  # a change: a new client
    assert services.email_deliver(email_id=emails[5].pk) == Email.Status.SENT
    assert transport.connection().connection is not clients[0]
    assert len(ses.sent()) == 6
