"""What SES reports (mailer.ses.events): deliveries, bounces, complaints, through the real webhook.

Messages are signed as SNS signs them (tests/support/sns.py) and the view downloads
the signing certificate over real HTTPS from a local server, which the settings
trust in place of amazonaws.com. Rows live in PostgreSQL; CSRF checks are on.
"""

import json
import threading

import pytest
from django.db import connection, transaction
from django.test import Client

from mailer import api as mail
from mailer.models import Email, EmailEvent, Suppression
from tests.support.outbox import CONTEXT, TEMPLATE
from tests.support.ses_events import post, sent_email, ses_message, state
from tests.support.sns import CERT_PATH
from tests.support.waits import wait_for


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["1", "2"])
def test_delivery_marks_the_email_delivered(sns, webhook, version):
    email = sent_email()
    notification = sns.notification(ses_message("Delivery", message_id=email.message_id, to=email.to), version=version)
    response = post(webhook, notification)
    assert response.status_code == 200
    email.refresh_from_db()
    assert email.delivery_status == "delivered"
    (event,) = EmailEvent.objects.all()
    assert (event.email, event.type, event.recipient) == (email, EmailEvent.Type.DELIVERY, "sita@example.com")
    assert (event.message_id, event.sns_message_id) == (email.message_id, notification["MessageId"])
    assert event.payload["delivery"]["smtpResponse"] == "250 2.0.0 OK"
    assert not Suppression.objects.exists()
    assert [r.path for r in sns.requests] == [CERT_PATH]  # the certificate, fetched over HTTPS


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["notificationType", "eventType"])
def test_permanent_bounce_suppresses_the_address(sns, webhook, fmt):
    email = sent_email(to="Gone@Example.com")
    message = ses_message("Bounce", message_id=email.message_id, to=email.to, fmt=fmt)
    assert post(webhook, sns.notification(message, version="2")).status_code == 200
    email.refresh_from_db()
    assert email.delivery_status == "bounced"
    (event,) = EmailEvent.objects.all()
    assert (event.email, event.type, event.subtype) == (email, EmailEvent.Type.BOUNCE, "Permanent")
    (suppression,) = Suppression.objects.all()
    assert (suppression.address, suppression.reason) == ("Gone@Example.com", Suppression.Reason.BOUNCE)
    assert email.message_id in suppression.detail


@pytest.mark.django_db
def test_transient_bounce_is_recorded_without_suppression(sns, webhook):
    email = sent_email()
    message = ses_message("Bounce", message_id=email.message_id, to=email.to, bounce_type="Transient")
    assert post(webhook, sns.notification(message)).status_code == 200
    (event,) = EmailEvent.objects.all()
    assert (event.email, event.type, event.subtype) == (email, EmailEvent.Type.BOUNCE, "Transient")
    assert not Suppression.objects.exists()
    # SES's bounce rate (and mailstats' "bounced") counts hard bounces only.
    email.refresh_from_db()
    assert email.delivery_status == ""


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["notificationType", "eventType"])
def test_complaint_suppresses_the_address(sns, webhook, fmt):
    email = sent_email()
    message = ses_message("Complaint", message_id=email.message_id, to=email.to, fmt=fmt)
    assert post(webhook, sns.notification(message)).status_code == 200
    email.refresh_from_db()
    assert email.delivery_status == "complained"
    (event,) = EmailEvent.objects.all()
    assert (event.type, event.subtype, event.recipient) == (EmailEvent.Type.COMPLAINT, "abuse", email.to)
    assert list(Suppression.objects.values_list("address", "reason")) == [(email.to, Suppression.Reason.COMPLAINT)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["Delivery", "Bounce"], "bounced"),
        (["Bounce", "Delivery"], "bounced"),
        (["Complaint", "Delivery"], "complained"),
        (["Delivery", "Complaint", "Delivery"], "complained"),
        (["Bounce", "Complaint"], "complained"),
        (["Complaint", "Bounce"], "complained"),
    ],
)
def test_a_later_event_never_hides_a_worse_one(sns, webhook, sequence, final):
    email = sent_email()
    for kind in sequence:
        notification = sns.notification(ses_message(kind, message_id=email.message_id, to=email.to))
        assert post(webhook, notification).status_code == 200
    email.refresh_from_db()
    assert email.delivery_status == final
    assert EmailEvent.objects.filter(email=email).count() == len(sequence)


@pytest.mark.django_db
def test_a_redelivered_notification_is_recorded_once(sns, webhook):
    email = sent_email()
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    assert post(webhook, notification).status_code == 200
    after_first = state()
    assert post(webhook, notification).status_code == 200  # SNS retries: same MessageId
    assert state() == after_first
    assert EmailEvent.objects.count() == 1 and Suppression.objects.count() == 1


def test_concurrent_redeliveries_are_recorded_once(transactional_db, sns):
    email = sent_email()
    # Warm the certificate cache, so that the threads race on the database rather
    # than queue for the download.
    warm_up = sns.notification(ses_message("Delivery", message_id="0100-other", to="other@example.com"))
    assert post(Client(enforce_csrf_checks=True), warm_up).status_code == 200
    notification = sns.notification(ses_message("Complaint", message_id=email.message_id, to=email.to))
    statuses = []
    barrier = threading.Barrier(8)

    def deliver():
        try:
            barrier.wait()
            statuses.append(post(Client(enforce_csrf_checks=True), notification).status_code)
        finally:
            connection.close()  # the test client leaves the thread's connection open

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert EmailEvent.objects.filter(sns_message_id=notification["MessageId"]).count() == 1
    assert Suppression.objects.count() == 1


@pytest.mark.django_db
def test_unknown_message_id_is_recorded_without_an_email(sns, webhook):
    """Another sender on the SES account, or a purged row: the address bounced all the same."""
    email = sent_email()
    message = ses_message("Bounce", message_id="0100-not-ours", to="stranger@example.com")
    assert post(webhook, sns.notification(message)).status_code == 200
    (event,) = EmailEvent.objects.all()
    assert (event.email, event.message_id, event.recipient) == (None, "0100-not-ours", "stranger@example.com")
    assert Suppression.objects.filter(address="stranger@example.com").exists()
    email.refresh_from_db()
    assert email.delivery_status == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "message",
    [
        json.dumps({"eventType": "Send", "mail": {"messageId": "m"}, "send": {}}),
        json.dumps({"eventType": "Open", "mail": {"messageId": "m"}, "open": {}}),
        json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}),
        "not JSON from SES",
    ],
)
def test_other_signed_messages_change_nothing(sns, webhook, message):
    sent_email()
    before = state()
    assert post(webhook, sns.notification(message)).status_code == 200
    assert state() == before


@pytest.mark.django_db
def test_odd_recipients_in_a_signed_bounce_do_not_break_it(sns, webhook):
    email = sent_email()
    message = json.loads(ses_message("Bounce", message_id=email.message_id, to=email.to))
    message["bounce"]["bouncedRecipients"] = [
        {"emailAddress": None},
        "not-an-address",
        {"emailAddress": "x" * 300 + "@e.com"},
    ]
    assert post(webhook, sns.notification(json.dumps(message))).status_code == 200
    (event,) = EmailEvent.objects.all()
    assert (event.email, event.recipient) == (email, "")
    assert not Suppression.objects.exists()


@pytest.mark.django_db
def test_the_log_line_masks_addresses(sns, webhook, settings):
    email = sent_email(to="sitaram@example.com")
    notification = sns.notification(ses_message("Complaint", message_id=email.message_id, to=email.to))
    assert post(webhook, notification).status_code == 200
    lines = [
        line for line in (settings.LOG_DIR / "email.log").read_text().splitlines() if notification["MessageId"] in line
    ]
    assert len(lines) == 1
    assert "type=complaint" in lines[0] and f"email_id={email.pk} " in lines[0] and "to=si***@example.com" in lines[0]
    assert "sitaram@" not in lines[0]


# --- end to end -----------------------------------------------------------------------


def _queue(to: str) -> Email:
    with transaction.atomic():
        (email,) = mail.enqueue(template=TEMPLATE, to=to, context=CONTEXT)
    return email


def _wait_final(email: Email) -> Email:
    return wait_for(
        lambda: Email.objects.filter(pk=email.pk, status__in=Email.FINAL_STATUSES).first(),
        message=f"email {email.pk} to reach a final state",
    )


def test_a_hard_bounce_stops_later_email_to_the_address(e2e, ses, sns):
    first = _wait_final(_queue("bounces@example.com"))
    assert first.status == Email.Status.SENT and first.message_id
    assert ses.faults.send_requests == 1

    bounce = ses_message("Bounce", message_id=first.message_id, to="bounces@example.com", fmt="eventType")
    assert post(Client(enforce_csrf_checks=True), sns.notification(bounce)).status_code == 200
    first.refresh_from_db()
    assert first.delivery_status == "bounced"
    assert Suppression.objects.filter(address__iexact="bounces@example.com").exists()

    second = _wait_final(_queue("Bounces@Example.com"))
    assert second.status == Email.Status.SUPPRESSED
    assert ses.faults.send_requests == 1  # SES saw nothing for the second email
    assert [m["To"] for m in ses.sent()] == ["bounces@example.com"]
