"""``POST /mailer/ses/events/`` (mailer.ses.webhook): what is answered 400, 403 or 405 before anything else."""

import json

import pytest

from tests.support.ses_events import URL, post, sent_email, ses_message, state
from tests.support.sns import TOPIC_ARN


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
