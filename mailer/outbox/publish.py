"""Publishing delivery tasks for committed Email rows.

Tasks are published by name (``DELIVER_TASK``) through the current Celery app, so
the outbox never imports the tasks module that calls it. Only row ids cross the
queue. A publish that fails (broker down) is logged and recorded by clearing the
rows' ``published_at``: they are still ``queued`` in the database, and the sweeper
publishes them as soon as the broker answers again.
"""

import logging
from collections.abc import Iterable

from celery import current_app
from django.conf import settings

from ..models import Email

logger = logging.getLogger("mailer.publish")

# The name mailer.tasks registers the delivery task under.
DELIVER_TASK = "mailer.deliver"


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
    """Publish one delivery task per id; return how many were published.

    Never raises for a broker that does not answer: the ids not published get
    ``published_at`` cleared, for the sweeper.
    """
    email_ids = list(email_ids)
    published = 0
    queue = queue_for(priority)
    try:
        with current_app.producer_or_acquire() as producer:
            for email_id in email_ids:
                current_app.send_task(DELIVER_TASK, (email_id,), queue=queue, countdown=countdown, producer=producer)
                published += 1
    except Exception as exc:  # broker down: the sweeper will pick the rows up
        logger.warning("publish failed after %d of %d ids, rows stay queued: %s", published, len(email_ids), exc)
        Email.objects.filter(pk__in=email_ids[published:]).update(published_at=None)
    return published
