"""Celery tasks of accounts: thin adapters that call a service."""

import logging

from celery import shared_task

from . import cleanup as nightly
from . import services

logger = logging.getLogger("accounts.cleanup")


@shared_task(name="accounts.cleanup", ignore_result=True)
def cleanup() -> dict[str, int]:
    """Beat, nightly at 02:00 Asia/Kathmandu: delete dead tokens and stale accounts.

    Idempotent and safe alongside a concurrent run (see accounts.cleanup), so a
    redelivered message (acks_late) does no harm. The counts go to the log, since
    the result is not stored.
    """
    counts = nightly.cleanup()
    logger.info("cleanup: %s", " ".join(f"{kind}={n}" for kind, n in counts.items()))
    return counts


@shared_task(name=services.ADDRESS_REQUEST_TASK, ignore_result=True)
def address_request(request_id: int) -> bool:
    """Handle one resend-verification or forgot-password request (idempotent)."""
    return services.address_request_process(request_id=request_id)


@shared_task(name="accounts.address_request_sweep", ignore_result=True)
def address_request_sweep() -> int:
    """Beat, every minute: handle the requests whose message was lost."""
    return services.address_request_sweep()
