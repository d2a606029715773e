"""Delivery of one outbox row: claim, check, render, send, record.

``email_deliver`` is what the Celery task calls. It is idempotent: a redelivered or
duplicated message for a row that is already claimed, sent or not yet due finds
nothing to claim and returns without sending.
"""

import random
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Email
from ..sending import counters, limiter, transport
from ..sending.errors import classify
from . import publish, state
from .attempt_log import log_attempt
from .message import build_message
from .suppression import suppressed

Status = Email.Status


def backoff_delay(attempt: int, *, min_delay: float = 0.0) -> float:
    """Seconds before attempt ``attempt + 1``: exponential with full jitter, capped.

    delay = uniform(0, min(cap, base * 2**(attempt-1))), but never below ``min_delay``.
    """
    ceiling = min(settings.MAILER_RETRY_CAP_SECONDS, settings.MAILER_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return max(min_delay, random.uniform(0, ceiling))


def _retry_later(email: Email, delay: float, *, error: str = "", counts: bool = True) -> None:
    """Requeue claimed ``email`` due in ``delay`` s; a short wait rides on a countdown message."""
    short = delay < publish.max_countdown()
    due_at = timezone.now() + timedelta(seconds=delay)
    if state.requeue(email, due_at=due_at, published=short, error=error, counts=counts) and short:
        publish.publish([email.pk], priority=email.priority, countdown=delay)


def email_deliver(*, email_id: int) -> str | None:
    """Try to deliver Email ``email_id`` once; return its new status, or None if not claimed.

    - expired (past ``expires_at``) or suppressed addresses end without sending;
    - success records the provider's message id and ``sent``;
    - a transient error requeues with backoff until MAILER_MAX_ATTEMPTS, then ``failed``;
    - a permanent error (or a render error) is ``failed`` at once.
    """
    email = state.claim(email_id)
    if email is None:
        return None
    started = time.monotonic()

    if email.expires_at and email.expires_at <= timezone.now():
        state.finish(email, Status.EXPIRED, error="The link in this email expired before it could be sent.")
        log_attempt(email, Status.EXPIRED, started)
        return Status.EXPIRED
    if suppressed(email.to):
        state.finish(email, Status.SUPPRESSED, error="Address is on the suppression list.")
        log_attempt(email, Status.SUPPRESSED, started)
        return Status.SUPPRESSED

    try:
        message = build_message(email)
        # Open (or reuse) the connection before taking a send slot, so that the time
        # between the slot and SES receiving the call is only the call itself.
        transport.connection()
        quota_wait = limiter.wait_for_slot(
            high_priority=email.priority == Email.Priority.HIGH, sleep=counters.limiter_sleep
        )
        if quota_wait:
            # Over the 24 h quota: wait in the outbox, without spending an attempt.
            _retry_later(email, quota_wait, counts=False)
            log_attempt(email, Status.QUEUED, started, error=f"24 h quota used up, next try in {quota_wait:.0f} s")
            return Status.QUEUED
        send_started = time.monotonic()
        message_id = transport.send(message)
        send_seconds = time.monotonic() - send_started
        latency = (timezone.now() - email.created_at).total_seconds()
    except Exception as exc:
        outcome = classify(exc)
        error = f"{outcome.code}: {outcome.detail}"[:2000]
        if outcome.transient and email.attempts < settings.MAILER_MAX_ATTEMPTS:
            _retry_later(email, backoff_delay(email.attempts, min_delay=outcome.min_delay), error=error)
            log_attempt(email, Status.QUEUED, started, error=error)
            return Status.QUEUED
        state.finish(email, Status.FAILED, error=error)
        log_attempt(email, Status.FAILED, started, error=error)
        return Status.FAILED

    state.mark_sent(email.pk, message_id)
    log_attempt(email, Status.SENT, started, message_id=message_id)
    # After the row records the send: metrics (Redis) must never delay or undo that.
    counters.record_send(latency_s=latency, duration_s=send_seconds, priority=email.priority)
    return Status.SENT
