"""Publishing delivery tasks for committed Email rows.

Only row ids cross the queue. A publish that fails (broker down) is logged and
recorded by clearing the rows' ``published_at``: they are still ``queued`` in the
database, and the sweeper publishes them as soon as the broker answers again.
"""

import logging
from collections.abc import Iterable

from django.conf import settings

logger = logging.getLogger("mailer.publish")


def queue_for(priority: str) -> str:
    """The broker queue for an email of this priority (settings.MAILER_QUEUES)."""
    return settings.MAILER_QUEUES[priority]


def max_countdown() -> float:
    """The longest wait that may ride on a Celery countdown.

    With Redis, a message whose ETA lies beyond the visibility timeout is delivered
    twice; longer waits live only in Email.next_attempt_at, for the sweeper.
    """
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] / 2


def publish(email_ids: Iterable[int], *, priority: str, countdown: float | None = None) -> int:
    """Publish one delivery task per id; return how many were published."""
    from .models import Email
    from .tasks import deliver  # tasks import services; keep api import-light

    email_ids = list(email_ids)
    published = 0
    queue = queue_for(priority)
    try:
        with deliver.app.producer_or_acquire() as producer:
            for email_id in email_ids:
                deliver.apply_async((email_id,), queue=queue, countdown=countdown, producer=producer)
                published += 1
    except Exception as exc:  # broker down: the sweeper will pick the rows up
        logger.warning("publish failed after %d of %d ids, rows stay queued: %s", published, len(email_ids), exc)
        Email.objects.filter(pk__in=email_ids[published:]).update(published_at=None)
    return published
