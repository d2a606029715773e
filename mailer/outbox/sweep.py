"""The outbox sweeper (beat task ``mailer.sweep``): every due email gets a delivery task.

A duplicate message is harmless, because the claim lets only one through; a
missing one would leave an email waiting for ever. So the sweeper errs on the side
of publishing.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import Email
from . import publish, state

logger = logging.getLogger("mailer.email")

Status = Email.Status


def email_sweep() -> dict[str, int]:
    """Make sure every due email has a delivery task on its way; return counts.

    - Claims whose lease ran out (a worker killed mid-send) go back to ``queued``.
    - Due ``queued`` rows with no message in the broker (the publish failed, or the
      wait was too long for a countdown), or whose last message is older than
      MAILER_REPUBLISH_AFTER_SECONDS (lost with a Redis restart), are published.
    """
    now = timezone.now()
    reclaimed = state.reclaim_expired(now=now)
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
