"""Whether to believe a POST (mailer.ses.signatures): signature, certificate host, topic, SubscribeURL.

Messages are signed as SNS signs them (tests/support/sns.py); the certificate is
fetched over real HTTPS from a local server the settings trust.
"""

import pytest

from mailer.ses import signatures
from tests.support.ses_events import post, sent_email, ses_message, state
from tests.support.sns import CERT_PATH, CONFIRM_PATH


# --- what is refused ------------------------------------------------------------------


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


# --- subscription confirmation --------------------------------------------------------


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
    assert signatures.subscribe_url(confirmation) == (url if trusted else "")
