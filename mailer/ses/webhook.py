"""``POST /mailer/ses/events/``: what SES reports about sent email, delivered by SNS."""

import json
import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django_ses.views import SESEventWebhookView

from . import events, signatures

logger = logging.getLogger("mailer.ses")


def _refuse(response_class, reason: str, detail: str = "") -> HttpResponse:
    """Log why a POST is refused; answer with ``reason`` only (``detail`` may quote the sender)."""
    logger.warning("ses events: refused, %s%s", reason, detail)
    return response_class(f"Refused: {reason}.", content_type="text/plain")


class SESEventsView(SESEventWebhookView):
    """django-ses's SNS webhook (CSRF-exempt, POST only), with our checks and handlers.

    Answers, given that SNS delivers again anything but a 2xx:

    - 400: the body is not JSON, not a signed SNS message, or its signature does
      not verify (``mailer.ses.signatures``); nothing is changed or fetched but, for a
      well-formed message from a trusted topic, the signing certificate.
    - 403: the topic is not in AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS (SES_EVENTS_TOPIC_ARNS);
      while that list is empty, every message.
    - 200: a verified message, handled: a subscription confirmed (its SubscribeURL
      fetched if trusted), a delivery, bounce or complaint recorded
      (``mailer.ses.events``), anything else logged and ignored.
    - 5xx only when the database fails, so that SNS delivers the event again.

    The three events are handled by overriding django-ses's ``handle_*`` methods
    rather than by receivers of its signals: a handler gets the SNS envelope, whose
    MessageId makes redeliveries harmless (the signals carry only the raw body); the
    wiring is visible here instead of in an ``AppConfig.ready``; and signals are
    global, so receivers would also act on any other django-ses view in the project.
    """

    def post(self, request, *args, **kwargs):
        # Shape and topic first: they cost no network, so a stranger's POST never
        # makes this server download a certificate. django-ses then checks the
        # signature (through verify_event_message) and dispatches.
        try:
            notification = json.loads(request.body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return _refuse(HttpResponseBadRequest, "the body is not JSON")
        problem = signatures.envelope_problem(notification)
        if problem:
            return _refuse(HttpResponseBadRequest, f"not a signed SNS message ({problem})")
        if not signatures.trusted_topic(notification):
            detail = f" {notification['TopicArn']!r}"
            if not settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS:
                detail += " (SES_EVENTS_TOPIC_ARNS is empty: every notification is refused)"
            return _refuse(HttpResponseForbidden, "untrusted topic", detail)
        return super().post(request, *args, **kwargs)

    def verify_event_message(self, notification):
        if signatures.verified(notification):
            return True
        logger.warning(
            "ses events: refused, the signature of SNS message %r does not verify", notification["MessageId"]
        )
        return False

    def verify_event_topic(self, notification):
        return signatures.trusted_topic(notification)

    def handle_subscription_confirmation(self, notification):
        signatures.confirm_subscription(notification)

    def handle_delivery(self, notification, message):
        events.ses_event_record(sns_message_id=notification["MessageId"], message=message)

    def handle_bounce(self, notification, message):
        events.ses_event_record(sns_message_id=notification["MessageId"], message=message)

    def handle_complaint(self, notification, message):
        events.ses_event_record(sns_message_id=notification["MessageId"], message=message)

    def handle_received(self, notification, message):
        # Inbound mail is not ours to handle: django-ses would hand it to its inbound
        # handler (which may fetch from S3). Log it and move on.
        logger.info("ses events: inbound-mail notification %s ignored", notification["MessageId"])
