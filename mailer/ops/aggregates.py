"""The outbox's figures for operations, each computed here and only here.

``manage.py mailstats`` (report), the Prometheus endpoint (metrics), the admin's
dashboard and the alerts all read these functions, so that they never disagree
about what a backlog or a count is:

- ``created_by_kind``: emails created in a window, by kind and status (one query);
- ``delivery_counts``: emails sent in a window and what SES said of them (one query);
- ``backlog``: the emails still queued, whatever their age: how many, how many due,
  the oldest (two queries, served by the partial index on queued/sending rows);
- ``hourly_counts``: emails created per hour and status, for the dashboard (one query);
- ``quota_use``: the rate limiter's use of its 24 h quota (one Redis call).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from ..models import Email, template_kind
from ..sending import limiter
from ..sending.redis_client import redis_client


def created_by_kind(*, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """``{kind: {status: n}}`` of the emails created in (start, end]; statuses with emails only."""
    counts: dict[str, dict[str, int]] = {}
    rows = (
        Email.objects.filter(created_at__gt=start, created_at__lte=end)
        .values_list("template", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for template, status, n in rows:
        by_status = counts.setdefault(template_kind(template), {})
        by_status[status] = by_status.get(status, 0) + n
    return counts


def delivery_counts(*, start: datetime, end: datetime, exclude_templates: tuple[str, ...] = ()) -> dict[str, int]:
    """``{"sent", "bounced", "complained"}``: emails sent in (start, end] and what SES said of them."""
    return (
        Email.objects.filter(status=Email.Status.SENT, sent_at__gt=start, sent_at__lte=end)
        .exclude(template__in=exclude_templates)
        .aggregate(
            sent=Count("id"),
            bounced=Count("id", filter=Q(delivery_status="bounced")),
            complained=Count("id", filter=Q(delivery_status="complained")),
        )
    )


@dataclass(frozen=True)
class Backlog:
    """The emails still ``queued`` at ``now``: all of them, the due ones, and the oldest."""

    now: datetime
    queued: int
    due: int
    oldest_id: int | None
    oldest_created_at: datetime | None

    @property
    def oldest_age_seconds(self) -> float:
        """Age of the oldest queued email at ``now``; 0 when none is queued."""
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, (self.now - self.oldest_created_at).total_seconds())


def backlog(*, now: datetime | None = None, exclude_templates: tuple[str, ...] = ()) -> Backlog:
    """The backlog at ``now`` (default: now), leaving out emails of ``exclude_templates``."""
    now = now or timezone.now()
    queued = Email.objects.filter(status=Email.Status.QUEUED).exclude(template__in=exclude_templates)
    counts = queued.aggregate(queued=Count("id"), due=Count("id", filter=Q(next_attempt_at__lte=now)))
    oldest = queued.order_by("created_at", "id").values("id", "created_at").first() or {}
    return Backlog(now, counts["queued"], counts["due"], oldest.get("id"), oldest.get("created_at"))


def hourly_counts(*, now: datetime | None = None, hours: int = 24) -> tuple[list[datetime], dict]:
    """The last ``hours`` hour starts (local time) and {hour: {status: n}} of emails created in each."""
    now = timezone.localtime(now or timezone.now())
    current = now.replace(minute=0, second=0, microsecond=0)
    starts = [current - timedelta(hours=h) for h in range(hours - 1, -1, -1)]
    rows = (
        Email.objects.filter(created_at__gte=starts[0])
        .annotate(hour=TruncHour("created_at", tzinfo=timezone.get_current_timezone()))
        .values_list("hour", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict = {start: {} for start in starts}
    for hour, status, n in rows:
        counts.setdefault(hour, {})[status] = n
    return starts, counts


def quota_use() -> dict:
    """Slots the limiter reserved within its 24 h window, against MAILER_MAX_24H_SEND.

    The members of the limiter's sorted set scored within the last
    MAILER_QUOTA_WINDOW_SECONDS, on Redis's clock as the limiter counts them.
    ``used`` is None (and ``error`` says why) when Redis does not answer.
    """
    window = settings.MAILER_QUOTA_WINDOW_SECONDS
    limit = settings.MAILER_MAX_24H_SEND
    client = redis_client(settings.REDIS_URL)
    try:
        seconds, micros = client.time()  # the limiter scores slots on Redis's clock
        now = seconds + micros / 1e6
        used = client.zcount(limiter.QUOTA_KEY, f"({now - window}", "+inf")
    except redis.RedisError as exc:
        return {"used": None, "limit": limit, "fraction": None, "window_seconds": window, "error": str(exc)}
    return {
        "used": used,
        "limit": limit,
        "fraction": used / limit if limit > 0 else None,
        "window_seconds": window,
    }


__all__ = ["Backlog", "backlog", "created_by_kind", "delivery_counts", "hourly_counts", "quota_use"]
