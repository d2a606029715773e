"""Whether to believe a POST (mailer.ses.signatures): signature, certificate host, topic, SubscribeURL.

Messages are signed as SNS signs them (tests/support/sns.py); the certificate is
fetched over real HTTPS from a local server that answers, with a valid certificate,
as SNS's real host for the topic's region and as look-alikes of it; the host rule is
the one production runs.
"""

import pytest
import requests

from mailer.ses import signatures
from tests.support.ses_events import post, sent_email, ses_message, state
from tests.support.sns import CERT_PATH, CONFIRM_PATH, LOOKALIKE_HOSTS, TOPIC_ARN

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


def _certificate_from(host):
    def forge(sns, email):
        message = ses_message("Bounce", message_id=email.message_id, to=email.to)
        return sns.notification(message, cert_url=f"https://{host.format(port=sns.port)}{CERT_PATH}")

    forge.__name__ = f"_certificate_from[{host}]"
    return forge


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
    ("forge", "status", "fetches_certificate"),
    [
        (_tampered, 400, True),
        (_unsigned, 400, False),
        (_signed_by_a_stranger, 400, True),
        (_wrong_signature_version, 400, True),
        (_unknown_signature_version, 400, False),
        (_garbage_signature, 400, False),
        (_http_certificate, 400, False),
        (_foreign_certificate_host, 400, False),
        # The same server and certificate under names that look like SNS's (sns.<label>.amazonaws.com
        # included), under SNS's host with a port or a user, or from its other ports.
        *[(_certificate_from(host), 400, False) for host in LOOKALIKE_HOSTS],
        (_certificate_from("sns.us-east-1.amazonaws.com:{port}"), 400, False),
        (_certificate_from("sns.us-east-1.amazonaws.com:443"), 400, False),
        (_certificate_from("someone@sns.us-east-1.amazonaws.com"), 400, False),
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
    ("make", "status"),
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
    ("template", "trusted"),
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


def test_the_look_alike_hosts_would_serve_a_certificate_that_verifies(sns):
    # What makes the refusals above mean something: under each look-alike name the
    # local server answers over verified TLS with SNS's own signing certificate.
    for host in LOOKALIKE_HOSTS:
        response = requests.get(f"https://{host}{CERT_PATH}", timeout=5)
        assert response.status_code == 200 and response.content == sns.files[CERT_PATH]


@pytest.mark.django_db
def test_a_notification_signed_from_the_topics_region_is_accepted(sns, webhook):
    email = sent_email()
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    assert notification["SigningCertURL"].startswith("https://sns.us-east-1.amazonaws.com/")
    assert post(webhook, notification).status_code == 200
    assert [r.host for r in sns.hits(CERT_PATH)] == ["sns.us-east-1.amazonaws.com"]
    assert state()[1] == [(email.to, "bounce")]


# --- the certificate host rule, against real AWS names ----------------------------------

PEM = "/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


@pytest.mark.parametrize(
    ("topic", "url", "trusted"),
    [
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://sns.ap-south-1.amazonaws.com{PEM}", True),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://SNS.AP-SOUTH-1.AMAZONAWS.COM{PEM}", True),
        ("arn:aws:sns:us-gov-west-1:123456789012:t", f"https://sns.us-gov-west-1.amazonaws.com{PEM}", True),
        ("arn:aws-cn:sns:cn-north-1:123456789012:t", f"https://sns.cn-north-1.amazonaws.com.cn{PEM}", True),
        # django-ses's rule (sns.<label>.amazonaws.com) takes each of these:
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://sns.s3.amazonaws.com{PEM}", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://sns.us-east-1.amazonaws.com{PEM}", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://sns.ap-south-1.amazonaws.com.cn{PEM}", False),
        ("arn:aws-cn:sns:cn-north-1:123456789012:t", f"https://sns.cn-north-1.amazonaws.com{PEM}", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://sns.ap-south-1.amazonaws.com:8443{PEM}", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://x@sns.ap-south-1.amazonaws.com{PEM}", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"http://sns.ap-south-1.amazonaws.com{PEM}", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", "https://sns.ap-south-1.amazonaws.com/evil.pem", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://sns.ap-south-1.amazonaws.com{PEM}?x=1", False),
        ("arn:aws:sns:ap-south-1:123456789012:t", f"https://sns.ap-south-1.amazonaws.com/a{PEM}", False),
        # An ARN whose "region" is a host fragment, or of an unknown partition or service.
        ("arn:aws:sns:s3:123456789012:t", f"https://sns.s3.amazonaws.com{PEM}", False),
        ("arn:aws-iso:sns:us-iso-east-1:123456789012:t", f"https://sns.us-iso-east-1.c2s.ic.gov{PEM}", False),
        ("arn:aws:sqs:ap-south-1:123456789012:t", f"https://sns.ap-south-1.amazonaws.com{PEM}", False),
    ],
)
def test_the_certificate_host_is_sns_in_the_region_of_the_trusted_topic(settings, topic, url, trusted):
    settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = [topic]
    assert signatures.certificate_url({"TopicArn": topic, "SigningCertURL": url}) == (url if trusted else "")


def test_no_certificate_host_for_an_untrusted_topic_or_an_untrusted_partition(settings):
    message = {"TopicArn": TOPIC_ARN, "SigningCertURL": f"https://sns.us-east-1.amazonaws.com{PEM}"}
    settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = ["arn:aws:sns:us-east-1:123456789012:another-topic"]
    assert signatures.certificate_url(message) == ""
    settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = [TOPIC_ARN]
    assert signatures.certificate_url(message) == message["SigningCertURL"]
    settings.AWS_SNS_EVENT_CERT_TRUSTED_DOMAINS = ["amazonaws.com.cn"]  # China only
    assert signatures.certificate_url(message) == ""
