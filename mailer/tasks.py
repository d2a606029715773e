"""Celery tasks of the mailer: thin adapters that call a service.

Task names are the contract with the broker, beat (worker.schedules) and the
outbox's doorbell (mailer.outbox.doorbell publishes ``mailer.deliver`` by name).
"""

from celery import shared_task

from .ops.alerts import alerts_check
from .outbox.delivery import dispatcher
from .outbox.doorbell import DOORBELL_TASK
from .outbox.retention import email_retention_purge
from .outbox.sweep import email_sweep


@shared_task(name=DOORBELL_TASK, ignore_result=True)
def deliver(*ignored) -> dict[str, int]:
    """The doorbell: send due email for a while (see mailer.outbox.delivery); return what was done.

    Takes no argument; one (an email id) is ignored, so that a message published
    before the outbox had a doorbell rings it too.
    """
    return dispatcher().drain()


@shared_task(name="mailer.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Beat, every 30 s (every worker's keeper does it too): take back expired claims, ring if due."""
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
