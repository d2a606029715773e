"""Delivery of one outbox row: claim, check, render, send, record.

``email_deliver`` is what the Celery task calls. It is idempotent: a redelivered or
duplicated message for a row that is already claimed, sent or not yet due finds
nothing to claim and returns without sending.
"""

import logging
import random
import time
from datetime import timedelta
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.utils import timezone

from . import limiter, metrics, publish, rendering, rows, secrets, transport
from .models import Email

logger = logging.getLogger("mailer.email")

Status = Email.Status


def backoff_delay(attempt: int, *, min_delay: float = 0.0) -> float:
    """Seconds before attempt ``attempt + 1``: exponential with full jitter, capped.

    delay = uniform(0, min(cap, base * 2**(attempt-1))), but never below ``min_delay``.
    """
    ceiling = min(settings.MAILER_RETRY_CAP_SECONDS, settings.MAILER_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return max(min_delay, random.uniform(0, ceiling))


def mask_address(address: str) -> str:
    """``si***@example.com``: enough to tell addresses apart in a log, not to read them."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}***@{domain}"


def build_message(email: Email) -> EmailMultiAlternatives:
    """Render ``email`` into a message with text and HTML parts (no I/O but templates)."""
    context = {**email.context, **secrets.decrypt(email.secret_context)}
    rendered = rendering.render(template=email.template, context=context, language=email.language)
    from_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "electnepal.local"
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        reply_to=[rendering.contact_email()],
        headers={"Message-ID": make_msgid(domain=from_domain)},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _finish(email: Email, status: str, *, error: str) -> None:
    """Record a final state other than ``sent`` (rows.mark_sent records a send) and erase the secret context.

    The plain ``context`` (names, links without a token) stays, so that the admin's
    email log can show what was sent and "send again" can queue it anew; the row,
    context included, goes with the nightly retention (MAILER_RETENTION_DAYS).
    """
    Email.objects.filter(pk=email.pk, status=Status.SENDING).update(
        status=status,
        last_error=error,
        errors=[*email.errors, _error_entry(email, error, transient=False)],
        lease_expires_at=None,
        secret_context="",
        updated_at=timezone.now(),
    )


def _requeue(email: Email, delay: float, *, error: str = "", transient_attempt: bool = True) -> None:
    """Put a claimed row back to ``queued``, due in ``delay`` seconds.

    ``transient_attempt``: the attempt failed and counts; otherwise (no send slot)
    the attempt is given back.
    """
    now = timezone.now()
    short = delay < publish.max_countdown()
    fields = {
        "status": Status.QUEUED,
        "next_attempt_at": now + timedelta(seconds=delay),
        "lease_expires_at": None,
        # A short wait rides on a countdown message; a long one waits for the sweeper.
        "published_at": now if short else None,
        "updated_at": now,
    }
    if transient_attempt:
        fields["last_error"] = error
        fields["errors"] = [*email.errors, _error_entry(email, error, transient=True)]
    else:
        fields["attempts"] = F("attempts") - 1
    Email.objects.filter(pk=email.pk, status=Status.SENDING).update(**fields)
    if short:
        publish.publish([email.pk], priority=email.priority, countdown=delay)


def _error_entry(email: Email, error: str, *, transient: bool) -> dict:
    return {"attempt": email.attempts, "at": timezone.now().isoformat(), "error": error, "transient": transient}


def _log(email: Email, status: str, started: float, *, message_id: str = "", error: str = "") -> None:
    level = logging.INFO if status in (Status.SENT, Status.QUEUED) else logging.ERROR
    outcome = "sent successfully" if status == Status.SENT else status
    if status == Status.QUEUED:
        outcome = "retry scheduled"
    logger.log(
        level,
        "email=%s kind=%s to=%s attempt=%d status=%s message_id=%s duration_ms=%.1f %s%s",
        email.pk,
        email.kind,
        mask_address(email.to),
        email.attempts,
        status,
        message_id or "-",
        (time.monotonic() - started) * 1000,
        outcome,
        f" error={error}" if error else "",
    )


def email_deliver(*, email_id: int) -> str | None:
    """Try to deliver Email ``email_id`` once; return its new status, or None if not claimed.

    - expired (past ``expires_at``) or suppressed addresses end without sending;
    - success records the provider's message id and ``sent``;
    - a transient error requeues with backoff until MAILER_MAX_ATTEMPTS, then ``failed``;
    - a permanent error (or a render error) is ``failed`` at once.
    """
    email = rows.claim(email_id)
    if email is None:
        return None
    started = time.monotonic()

    if email.expires_at and email.expires_at <= timezone.now():
        _finish(email, Status.EXPIRED, error="The link in this email expired before it could be sent.")
        _log(email, Status.EXPIRED, started)
        return Status.EXPIRED
    if rows.suppressed(email.to):
        _finish(email, Status.SUPPRESSED, error="Address is on the suppression list.")
        _log(email, Status.SUPPRESSED, started)
        return Status.SUPPRESSED

    try:
        message = build_message(email)
        # Open (or reuse) the connection before taking a send slot, so that the time
        # between the slot and SES receiving the call is only the call itself.
        transport.connection()
        quota_wait = limiter.wait_for_slot(
            high_priority=email.priority == Email.Priority.HIGH, sleep=metrics.limiter_sleep
        )
        if quota_wait:
            # Over the 24 h quota: wait in the outbox, without spending an attempt.
            _requeue(email, quota_wait, transient_attempt=False)
            _log(email, Status.QUEUED, started, error=f"24 h quota used up, next try in {quota_wait:.0f} s")
            return Status.QUEUED
        send_started = time.monotonic()
        message_id = transport.send(message)
        send_seconds = time.monotonic() - send_started
        latency = (timezone.now() - email.created_at).total_seconds()
    except Exception as exc:
        outcome = transport.classify(exc)
        error = f"{outcome.code}: {outcome.detail}"[:2000]
        if outcome.transient and email.attempts < settings.MAILER_MAX_ATTEMPTS:
            _requeue(email, backoff_delay(email.attempts, min_delay=outcome.min_delay), error=error)
            _log(email, Status.QUEUED, started, error=error)
            return Status.QUEUED
        _finish(email, Status.FAILED, error=error)
        _log(email, Status.FAILED, started, error=error)
        return Status.FAILED

    rows.mark_sent(email.pk, message_id)
    _log(email, Status.SENT, started, message_id=message_id)
    # After the row records the send: metrics (Redis) must never delay or undo that.
    metrics.record_send(latency_s=latency, duration_s=send_seconds, priority=email.priority)
    return Status.SENT


def email_sweep() -> dict[str, int]:
    """Make sure every due email has a delivery task on its way; return counts.

    - Claims whose lease ran out (a worker killed mid-send) go back to ``queued``.
    - Due ``queued`` rows with no message in the broker (the publish failed, or the
      wait was too long for a countdown), or whose last message is older than
      MAILER_REPUBLISH_AFTER_SECONDS (lost with a Redis restart), are published.
    A duplicate message is harmless: the claim lets only one through.
    """
    now = timezone.now()
    reclaimed = Email.objects.filter(status=Status.SENDING, lease_expires_at__lt=now).update(
        status=Status.QUEUED,
        next_attempt_at=now,
        lease_expires_at=None,
        published_at=None,
        last_error="Lease expired: the worker stopped before recording an outcome.",
        updated_at=now,
    )
    stale = now - timedelta(seconds=settings.MAILER_REPUBLISH_AFTER_SECONDS)
    due = list(
        Email.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now)
        .filter(Q(published_at__isnull=True) | Q(published_at__lt=stale))
        .order_by("next_attempt_at")
        .values_list("pk", "priority")[: settings.MAILER_SWEEP_BATCH]
    )
    Email.objects.filter(pk__in=[pk for pk, _ in due]).update(published_at=now)
    published = 0
    for priority in Email.Priority.values:
        ids = [pk for pk, p in due if p == priority]
        if ids:
            published += publish.publish(ids, priority=priority)
    if reclaimed or due:
        logger.info("sweep: reclaimed=%d due=%d published=%d", reclaimed, len(due), published)
    return {"reclaimed": reclaimed, "due": len(due), "published": published}
