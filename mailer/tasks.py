"""Celery tasks of the mailer: thin adapters that take an id and call a service."""

from celery import shared_task

from . import services
from .alerts import alerts_check


@shared_task(name="mailer.deliver", ignore_result=True)
def deliver(email_id: int) -> str | None:
    """Deliver outbox row ``email_id`` (idempotent: see services.email_deliver)."""
    return services.email_deliver(email_id=email_id)


@shared_task(name="mailer.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Beat, every 30 s: republish due rows, take back expired claims."""
    return services.email_sweep()


@shared_task(name="mailer.alerts", ignore_result=True)
def alerts() -> dict:
    """Beat, every 5 minutes: log email trouble at ERROR, tell ADMINS at most hourly."""
    return alerts_check()
