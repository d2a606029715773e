"""Emails through the outbox, for the mailer's tests: queue them, wait for the end, count what SES got."""

import collections
import time

from django.db import transaction

from mailer import api as mail
from mailer.models import Email
from mailer.outbox.sweep import email_sweep
from tests.support.waits import wait_for

TEMPLATE = "accounts/email/welcome"
CONTEXT = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}


def queue(to="sita@example.com", **kwargs) -> Email:
    with transaction.atomic():
        (email,) = mail.enqueue(template=TEMPLATE, to=to, context=CONTEXT, **kwargs)
    return email


def due_rows(n: int, *, prefix: str = "user") -> list[Email]:
    """Due rows written without ringing the doorbell: only the Dispatcher a test drains itself takes them."""
    from django.utils import timezone

    return Email.objects.bulk_create(
        Email(template=TEMPLATE, to=f"{prefix}{i}@example.com", context=CONTEXT, next_attempt_at=timezone.now())
        for i in range(n)
    )


def wait_final(email: Email) -> Email:
    return wait_for(
        lambda: Email.objects.filter(pk=email.pk, status__in=Email.FINAL_STATUSES).first(),
        message=f"email {email.pk} to reach a final state",
    )


def queue_many(n: int, *, prefix: str = "user", priority: str = "bulk") -> list[Email]:
    with transaction.atomic():
        return mail.enqueue(
            template=TEMPLATE, to=[f"{prefix}{i}@example.com" for i in range(n)], context=CONTEXT, priority=priority
        )


def all_final(timeout: float = 60, sweep: bool = False):
    def done():
        if sweep:
            email_sweep()
        return not Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists()

    wait_for(done, timeout=timeout, interval=0.5 if sweep else 0.05, message="every email to reach a final state")


def delivery_report(ses, expected: int) -> dict:
    per_recipient = collections.Counter(m["To"] for m in ses.sent())
    statuses = collections.Counter(Email.objects.values_list("status", flat=True))
    return {
        "queued": expected,
        "delivered": len(per_recipient),
        "lost": expected - len(per_recipient),
        "duplicated": sum(c - 1 for c in per_recipient.values()),
        "failed": statuses.get(Email.Status.FAILED, 0),
        "attempts": sum(Email.objects.values_list("attempts", flat=True)),
    }


def burst_through(fault, *, n: int = 300, sent_before: int = 60, timeout: float = 90) -> float:
    """Queue ``n`` emails; once ``sent_before`` are sent, run ``fault()``, which returns when
    the service it broke is back; wait until every row is final. Returns the seconds from
    then to the end (the workers must be running)."""
    queue_many(n)
    wait_for(lambda: Email.objects.filter(status="sent").count() >= sent_before, timeout=60)
    fault()
    back = time.time()
    wait_for(lambda: not Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists(), timeout=timeout)
    return time.time() - back
