"""Publishing delivery tasks for committed Email rows.

Only row ids cross the queue. A failed publish is logged and otherwise ignored:
the row is still ``queued`` in the database, and the sweeper publishes it later.
"""

import logging
from collections.abc import Iterable

from django.conf import settings

logger = logging.getLogger("mailer.publish")


def queue_for(priority: str) -> str:
    """The broker queue for an email of this priority (settings.MAILER_QUEUES)."""
    return settings.MAILER_QUEUES[priority]


def publish(email_ids: Iterable[int], *, priority: str, countdown: float | None = None) -> int:
    """Publish one delivery task per id; return how many were published."""
    from .tasks import deliver  # tasks import services; keep api import-light

    published = 0
    queue = queue_for(priority)
    try:
        with deliver.app.producer_or_acquire() as producer:
            for email_id in email_ids:
                deliver.apply_async((email_id,), queue=queue, countdown=countdown, producer=producer)
                published += 1
    except Exception as exc:  # broker down: the sweeper will pick the rows up
        logger.warning("publish failed after %d of the ids, rows stay queued: %s", published, exc)
    return published
