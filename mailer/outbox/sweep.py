"""The sweep: claims whose worker is gone go back to the outbox, and due email rings the doorbell.

Run by every worker's keeper thread (mailer.outbox.delivery) every
MAILER_KEEPER_SECONDS, and by beat (task ``mailer.sweep``) as a backstop, so that
neither a lost host nor a stopped beat leaves email behind. Cheap when there is
nothing to do: one UPDATE and one SELECT, both served by partial indexes.

It rings when it took claims back, and otherwise only when due email waits and no
worker is sending (the drainers keep a Redis key alive): while the outbox drains,
or while sending is paused or the 24 h quota is used up (for bulk email: all but its
security reserve), it adds no broker message.
"""

import logging

import redis
from django.utils import timezone

from ..models import Email
from ..sending import breaker, limiter
from . import doorbell, state

logger = logging.getLogger("mailer.email")

# An idle worker answers a doorbell within a fraction of a second; one unanswered this
# long after it was due, while nobody sends, is taken for lost. At most one ring per this
# many seconds comes of it, whatever the number of keepers.
STALE_DOORBELL_SECONDS = 3.0


def email_sweep() -> dict[str, int]:
    """Take back expired claims; ring if email is due and nobody sends it; return the counts."""
    now = timezone.now()
    reclaimed = state.reclaim_expired(now=now)
    rung = 0
    if reclaimed:
        # A worker died with these: whoever else is sending may not look again soon.
        rung = int(not breaker.paused()[0] and doorbell.ring())
    elif state.next_due_in(now=now) == 0:
        rung = int(_ring_if_nobody_sends(now))
    if reclaimed or rung:
        logger.info("sweep: reclaimed=%d rung=%d", reclaimed, rung)
    return {"reclaimed": reclaimed, "rung": rung}


def _ring_if_nobody_sends(now) -> bool:
    if doorbell.anyone_draining() or breaker.paused()[0]:
        return False
    try:
        if limiter.quota_blocked():
            return False
        # Only the security reserve is left: worth a ring for security email only.
        if limiter.quota_blocked(bulk=True) and state.next_due_in(now=now, priority=Email.Priority.HIGH) != 0:
            return False
    except redis.RedisError:
        pass  # ring anyway: the drain finds out, and says so in its log
    # Nobody sends although email is due: a doorbell still "on its way" well after it was
    # due went down with a worker that held it (unacked), and would block rings until it expires.
    return doorbell.ring(stale_after=STALE_DOORBELL_SECONDS)
