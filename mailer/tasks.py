"""Celery tasks of the mailer: thin adapters that take an id (or nothing) and call a service.

Task names are the contract with the broker, beat (worker.schedules) and the
outbox's publisher (mailer.outbox.publish publishes ``mailer.deliver`` by name).
"""

from celery import shared_task

from .ops.alerts import alerts_check
from .outbox.delivery import email_deliver
from .outbox.publish import DELIVER_TASK
from .outbox.retention import email_retention_purge
from .outbox.sweep import email_sweep


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver(email_id: int) -> str | None:
    """Deliver outbox row ``email_id`` (idempotent: see mailer.outbox.delivery)."""
    return email_deliver(email_id=email_id)


@shared_task(name="mailer.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Beat, every 30 s: republish due rows, take back expired claims."""
    return email_sweep()


@shared_task(name="mailer.alerts", ignore_result=True)
def alerts() -> dict:
    """Beat, every 5 minutes: log email trouble at ERROR, tell ADMINS at most hourly."""
    return alerts_check()


@shared_task(name="mailer.retention", ignore_result=True)
def retention() -> dict[str, int]:
    """Beat, nightly: delete final emails past MAILER_RETENTION_DAYS and their SES events.

    Idempotent and safe alongside a concurrent run (see mailer.outbox.retention).
    """
    return email_retention_purge()
