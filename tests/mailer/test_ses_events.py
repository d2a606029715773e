"""POST /mailer/ses/events/: SNS notifications from SES, through the real view.

Messages are signed as SNS signs them (tests/support/sns.py) and the view downloads
the signing certificate over real HTTPS from a local server, which the settings
trust in place of amazonaws.com. Rows live in PostgreSQL; CSRF checks are on.
"""

import json
import threading
import uuid

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from mailer import api as mail
from mailer.ses import signatures as mailer_sns
from mailer.models import Email, EmailEvent, Suppression
from tests.conftest import wait_for
from tests.support.sns import CERT_PATH, CONFIRM_PATH, TOPIC_ARN, LocalSNS

URL = "/mailer/ses/events/"
TEMPLATE = "accounts/email/welcome"
CONTEXT = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}


# --- fixtures and helpers -------------------------------------------------------


@pytest.fixture(scope="session")
def local_sns():
    server = LocalSNS().start()
    yield server
    server.stop()


@pytest.fixture
def sns(local_sns, settings, monkeypatch):
    """The view trusts the local SNS: its topic, its certificate host, its TLS CA."""
    local_sns.reset()
    mailer_sns.clear_certificate_cache()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(local_sns.ca_bundle))
    settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = [TOPIC_ARN]
    # django-ses matches the last dot-separated labels of host:port against each
    # domain, so the port is part of the trusted name here.
    settings.AWS_SNS_EVENT_CERT_TRUSTED_DOMAINS = [local_sns.host]
    return local_sns


@pytest.fixture
def webhook():
    return Client(enforce_csrf_checks=True)


def post(client: Client, body):
    """POST as SNS does: the JSON document as a text/plain body."""
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type="text/plain; charset=utf-8")  # bytes pass through as they are


def sent_email(to: str = "sita@example.com") -> Email:
    now = timezone.now()
    return Email.objects.create(
        template=TEMPLATE, to=to, status=Email.Status.SENT, message_id=f"0100{uuid.uuid4().hex}-000000",
        next_attempt_at=now, sent_at=now,
    )


def ses_message(kind: str, *, message_id: str, to: str, bounce_type: str = "Permanent", fmt="notificationType") -> str:
    """An SES notification (``fmt="notificationType"``) or event (``"eventType"``) as SNS carries it."""
    mail_obj = {"timestamp": "2026-11-25T10:00:00.000Z", "messageId": message_id, "source": "no-reply@electnepal.test",
                "destination": [to]}
    bodies = {
        "Delivery": ("delivery", {"recipients": [to], "smtpResponse": "250 2.0.0 OK", "processingTimeMillis": 546}),
        "Bounce": ("bounce", {
            "bounceType": bounce_type, "bounceSubType": "General", "feedbackId": "feedback-1",
            "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        }),
        "Complaint": ("complaint", {"complainedRecipients": [{"emailAddress": to}], "complaintFeedbackType": "abuse",
                                    "feedbackId": "feedback-2"}),
    }
    key, body = bodies[kind]
    return json.dumps({fmt: kind, "mail": mail_obj, key: body})


def state():
    """Everything a notification may change."""
    return (
        sorted(EmailEvent.objects.values_list("sns_message_id", "type", "recipient")),
        sorted(Suppression.objects.values_list("address", "reason")),
        sorted(Email.objects.values_list("pk", "delivery_status")),
    )


# --- deliveries, bounces, complaints ---------------------------------------------


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
    "sequence, final",
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
        {"emailAddress": None}, "not-an-address", {"emailAddress": "x" * 300 + "@e.com"}
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


@pytest.mark.django_db
def test_staff_see_events_read_only_and_delivery_status_in_the_email_log(sns, webhook, client):
    from accounts.models import User

    email = sent_email(to="listed@example.com")
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    assert post(webhook, notification).status_code == 200
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082"))
    event = EmailEvent.objects.get()
    listing = client.get("/admin/mailer/emailevent/")
    assert listing.status_code == 200 and b"listed@example.com" in listing.content
    detail = client.get(f"/admin/mailer/emailevent/{event.pk}/change/")
    assert detail.status_code == 200 and b'name="recipient"' not in detail.content  # no form field: read-only
    assert client.get("/admin/mailer/emailevent/add/").status_code == 403
    emails = client.get("/admin/mailer/email/?delivery_status=bounced")
    assert emails.status_code == 200 and b"listed@example.com" in emails.content


# --- what is refused ---------------------------------------------------------------


def _tampered(sns, email):
    notification = sns.notification(ses_message("Delivery", message_id=email.message_id, to=email.to))
    # Someone changes a signed delivery into a bounce of another address.
    notification["Message"] = ses_message("Bounce", message_id=email.message_id, to="victim@example.com")
    return notification


def _unsigned(sns, email):
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    del notification["Signature"]
    return notification


def _signed_by_a_stranger(sns, email):
    message = ses_message("Bounce", message_id=email.message_id, to=email.to)
    return sns.sign(sns.notification(message), key=sns.stranger_key)


def _wrong_signature_version(sns, email):
    # Signed with SHA256 but claiming SignatureVersion 1 (SHA1): the hash must follow the version.
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to), version="2")
    return {**notification, "SignatureVersion": "1"}


def _unknown_signature_version(sns, email):
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    return {**notification, "SignatureVersion": "3"}


def _garbage_signature(sns, email):
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    return {**notification, "Signature": "%%% not base64 %%%"}


def _http_certificate(sns, email):
    message = ses_message("Bounce", message_id=email.message_id, to=email.to)
    return sns.notification(message, cert_url=f"http://{sns.host}{CERT_PATH}")


def _foreign_certificate_host(sns, email):
    # The very same server and certificate, under a name that is not trusted.
    message = ses_message("Bounce", message_id=email.message_id, to=email.to)
    return sns.notification(message, cert_url=f"https://127.0.0.1:{sns.port}{CERT_PATH}")


def _missing_certificate(sns, email):
    message = ses_message("Bounce", message_id=email.message_id, to=email.to)
    return sns.notification(message, cert_url=f"https://{sns.host}/SimpleNotificationService-missing.pem")


def _wrong_topic(sns, email):
    message = ses_message("Bounce", message_id=email.message_id, to=email.to)
    return sns.notification(message, topic="arn:aws:sns:us-east-1:999999999999:someone-elses-topic")


def _unknown_type(sns, email):
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    return {**notification, "Type": "Surprise"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forge, status, fetches_certificate",
    [
        (_tampered, 400, True),
        (_unsigned, 400, False),
        (_signed_by_a_stranger, 400, True),
        (_wrong_signature_version, 400, True),
        (_unknown_signature_version, 400, False),
        (_garbage_signature, 400, False),
        (_http_certificate, 400, False),
        (_foreign_certificate_host, 400, False),
        (_missing_certificate, 400, True),
        (_wrong_topic, 403, False),
        (_unknown_type, 400, False),
    ],
)
def test_forged_or_unverifiable_notifications_change_nothing(sns, webhook, forge, status, fetches_certificate):
    email = sent_email()
    notification = forge(sns, email)
    before = state()
    response = post(webhook, notification)
    assert response.status_code == status
    assert state() == before
    # Only a well-formed message from a trusted topic, naming a trusted https
    # certificate URL, makes the view download anything.
    assert bool(sns.requests) == fetches_certificate
    assert all(r.host == sns.host for r in sns.requests)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"a string"',
        b"[" * 100_000,
        json.dumps({"Type": "Notification", "MessageId": 7, "TopicArn": TOPIC_ARN}).encode(),
        json.dumps({"Type": "Notification", "Message": {"nested": "object"}}).encode(),
    ],
    ids=["empty", "bad-json", "bad-utf8", "array", "string", "deep", "number-field", "object-message"],
)
def test_malformed_bodies_are_400(sns, webhook, body):
    sent_email()
    before = state()
    assert post(webhook, body).status_code == 400
    assert state() == before
    assert sns.requests == []


@pytest.mark.django_db
def test_with_no_trusted_topic_every_notification_is_refused(sns, webhook, settings):
    settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = []
    email = sent_email()
    before = state()
    response = post(webhook, sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to)))
    assert response.status_code == 403
    assert state() == before
    assert sns.requests == []  # refused before any download


@pytest.mark.django_db
def test_only_post_is_allowed(sns, webhook):
    assert webhook.get(URL).status_code == 405


# --- subscription confirmation ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["1", "2"])
def test_subscription_is_confirmed_by_fetching_the_subscribe_url(sns, webhook, version):
    confirmation = sns.subscription_confirmation(version=version)
    assert post(webhook, confirmation).status_code == 200
    (hit,) = sns.hits(CONFIRM_PATH)
    assert hit.host == sns.host and confirmation["Token"] in hit.path


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make, status",
    [
        (lambda s: s.subscription_confirmation(topic="arn:aws:sns:us-east-1:999999999999:other"), 403),
        # Signed, but pointing elsewhere: another host (same server), or plain http.
        (lambda s: s.subscription_confirmation(subscribe_url=f"https://127.0.0.1:{s.port}{CONFIRM_PATH}?x=1"), 200),
        (lambda s: s.subscription_confirmation(subscribe_url=f"http://{s.host}{CONFIRM_PATH}?x=1"), 200),
        # Signed, then its SubscribeURL replaced.
        (lambda s: {**s.subscription_confirmation(), "SubscribeURL": f"https://{s.host}{CONFIRM_PATH}?evil=1"}, 400),
    ],
    ids=["untrusted-topic", "foreign-host", "http", "tampered"],
)
def test_untrusted_subscribe_urls_are_not_fetched(sns, webhook, make, status):
    assert post(webhook, make(sns)).status_code == status
    assert sns.hits(CONFIRM_PATH) == []


@pytest.mark.parametrize(
    "template, trusted",
    [
        ("https://{host}/confirm?Action=ConfirmSubscription", True),
        ("http://{host}/confirm?Action=ConfirmSubscription", False),
        ("https://127.0.0.1:{port}/confirm", False),
        ("https://{host}.evil.example/confirm", False),
        ("https://{host}@evil.example/confirm", False),
        ("file:///etc/passwd", False),
        ("", False),
    ],
)
def test_a_subscribe_url_must_be_https_on_the_signing_host(sns, template, trusted):
    url = template.format(host=sns.host, port=sns.port)
    confirmation = sns.subscription_confirmation(subscribe_url=url or None)
    if not url:
        del confirmation["SubscribeURL"]
    assert mailer_sns.subscribe_url(confirmation) == (url if trusted else "")


# --- end to end ------------------------------------------------------------------


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
