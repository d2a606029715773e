"""Celery tasks of accounts: thin adapters that call a service."""

import logging

from celery import shared_task

from . import cleanup as nightly

logger = logging.getLogger("accounts.cleanup")


@shared_task(name="accounts.cleanup", ignore_result=True)
def cleanup() -> dict[str, int]:
    """Beat, nightly at 02:00 Asia/Kathmandu: delete dead tokens, stale accounts, old emails.

    Idempotent and safe alongside a concurrent run (see accounts.cleanup), so a
    redelivered message (acks_late) does no harm. The counts go to the log, since
    the result is not stored.
    """
    counts = nightly.cleanup()
    logger.info("cleanup: %s", " ".join(f"{kind}={n}" for kind, n in counts.items()))
    return counts
