"""What SES publishes through SNS, posted to the webhook as SNS posts it, and the rows it may change."""

import json
import uuid

from django.test import Client
from django.utils import timezone

from mailer.models import Email, EmailEvent, Suppression
from tests.support.outbox import TEMPLATE

URL = "/mailer/ses/events/"


def post(client: Client, body):
    """POST as SNS does: the JSON document as a text/plain body."""
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type="text/plain; charset=utf-8")  # bytes pass through as they are


def sent_email(to: str = "sita@example.com") -> Email:
    now = timezone.now()
    return Email.objects.create(
        template=TEMPLATE,
        to=to,
        status=Email.Status.SENT,
        message_id=f"0100{uuid.uuid4().hex}-000000",
        next_attempt_at=now,
        sent_at=now,
    )


def ses_message(kind: str, *, message_id: str, to: str, bounce_type: str = "Permanent", fmt="notificationType") -> str:
    """An SES notification (``fmt="notificationType"``) or event (``"eventType"``) as SNS carries it."""
    mail_obj = {
        "timestamp": "2026-11-25T10:00:00.000Z",
        "messageId": message_id,
        "source": "no-reply@electnepal.test",
        "destination": [to],
    }
    bodies = {
        "Delivery": ("delivery", {"recipients": [to], "smtpResponse": "250 2.0.0 OK", "processingTimeMillis": 546}),
        "Bounce": (
            "bounce",
            {
                "bounceType": bounce_type,
                "bounceSubType": "General",
                "feedbackId": "feedback-1",
                "bouncedRecipients": [
                    {
                        "emailAddress": to,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
            },
        ),
        "Complaint": (
            "complaint",
            {
                "complainedRecipients": [{"emailAddress": to}],
                "complaintFeedbackType": "abuse",
                "feedbackId": "feedback-2",
            },
        ),
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
