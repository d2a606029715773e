"""Telling the people who run the site that email is in trouble, before SES does.

``alerts_check`` (beat task ``mailer.alerts``, every 5 minutes) looks at:

- the bounce and complaint rates of the last 24 h (mailer.ops.aggregates), against half of
  the rates at which SES puts an account under review (5 % and 0.1 %): at half,
  there is still time to act; at the threshold, SES acts. Rates need at least
  MAILER_ALERT_MIN_SENT emails sent in the window, so that one bounce out of
  three emails on a quiet night does not page anyone;
- the age of the oldest queued email, against MAILER_ALERT_QUEUE_AGE_SECONDS
  (10 minutes): no worker, a broker down, or a quota used up;
- the provider: every worker paused (mailer.sending.breaker) because SES answered
  5xx or could not be reached, and no send has gone through since; or SES paused the
  account's sending (an emergency: the alert says what to do).

Each problem is logged at ERROR on the ``mailer`` logger on every check (log
monitoring sees it as long as it lasts), and once at INFO when it has cleared. ADMINS get one email listing the
problems at most once per MAILER_ALERT_INTERVAL_SECONDS (an hour), whatever the
number of checks, processes or problems: the first check in the interval takes a
Redis key with SET NX EX, the others see it taken.

The alert goes through the outbox like any email, on the high-priority queue, and
never feeds itself: alert emails are left out of the backlog age and the rates, so
an alert stuck in a stuck queue cannot raise another alert, and the interval
bounds how many can ever be queued.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Email
from ..outbox.enqueue import enqueue
from ..sending import breaker
from ..sending.errors import SES_HALT_CODES
from ..sending.redis_client import redis_client
from . import aggregates
from .report import BOUNCE_THRESHOLD, COMPLAINT_THRESHOLD, WARNING_FRACTION, format_age

logger = logging.getLogger("mailer")

ALERT_TEMPLATE = "mailer/email/alert"
THROTTLE_KEY = "electnepal:mailer:alert:last"
# The kinds of problem the last check found, so that the next one can say what cleared.
ACTIVE_KEY = "electnepal:mailer:alert:active"


@dataclass(frozen=True)
class Problem:
    kind: str  # bounce_rate, complaint_rate, backlog or provider
    message: str


def _rate_problem(kind: str, count: int, sent: int, threshold: float) -> Problem | None:
    if sent < settings.MAILER_ALERT_MIN_SENT or not sent:
        return None
    rate = count / sent
    if rate < threshold * WARNING_FRACTION:
        return None
    name = kind.replace("_", " ")
    return Problem(
        kind,
        f"{name} {rate:.2%} over the last 24 h ({count} of {sent} sent) has passed half of SES's review "
        f"threshold of {threshold:.1%}",
    )


def find_problems(*, now: datetime | None = None) -> list[Problem]:
    """What is wrong now (empty when all is well). Three queries and one Redis call."""
    now = now or timezone.now()
    exclude = (ALERT_TEMPLATE,)
    counts = aggregates.delivery_counts(start=now - timedelta(hours=24), end=now, exclude_templates=exclude)
    problems = [
        _rate_problem("bounce_rate", counts["bounced"], counts["sent"], BOUNCE_THRESHOLD),
        _rate_problem("complaint_rate", counts["complained"], counts["sent"], COMPLAINT_THRESHOLD),
    ]
    backlog = aggregates.backlog(now=now, exclude_templates=exclude)
    if backlog.oldest_id is not None:
        age = backlog.oldest_age_seconds
        if age > settings.MAILER_ALERT_QUEUE_AGE_SECONDS:
            problems.append(
                Problem(
                    "backlog",
                    f"the oldest queued email (#{backlog.oldest_id}) has waited {format_age(age)}: are the workers "
                    "and the broker up, and is the 24 h quota used up? (manage.py mailcheck, mailstats)",
                )
            )
    pauses, last_error = breaker.trouble()
    if pauses and last_error.split(":")[0] in SES_HALT_CODES:
        problems.append(
            Problem(
                "provider",
                f"SES has stopped this account's sending ({last_error}). Nothing goes out until it is lifted: "
                "read the notice from AWS (console, Reputation dashboard), fix the cause and ask for a review. "
                "Emails wait in the outbox and go out by themselves once SES sends again.",
            )
        )
    elif pauses:
        problems.append(
            Problem(
                "provider",
                f"sending is paused: SES keeps failing ({pauses} pause(s) since the last email that went through; "
                f"last error: {last_error}). Emails wait in the outbox and go out when SES answers again.",
            )
        )
    return [problem for problem in problems if problem]


def _cleared(problems: list[Problem]) -> list[str]:
    """The kinds the previous check found and this one does not; remembers this one's (never raises)."""
    client = redis_client(settings.REDIS_URL)
    kinds = sorted({problem.kind for problem in problems})
    try:
        before = client.getset(ACTIVE_KEY, ",".join(kinds)) or b""
    except redis.RedisError:
        return []
    return sorted(set(filter(None, before.decode().split(","))) - set(kinds))


def _take_notify_slot() -> bool:
    """True for the first caller in the interval; False after, or when Redis does not answer."""
    client = redis_client(settings.REDIS_URL)
    try:
        return bool(
            client.set(THROTTLE_KEY, timezone.now().isoformat(), nx=True, ex=settings.MAILER_ALERT_INTERVAL_SECONDS)
        )
    except redis.RedisError as exc:
        # Without Redis nothing could be published anyway; the ERROR lines remain.
        logger.error("mailer alert: not notifying ADMINS, Redis does not answer: %s", exc)
        return False


def _notify_admins(problems: list[Problem]) -> list[Email]:
    addresses = [address for _, address in settings.ADMINS if address]
    if not addresses:
        return []
    context = {"problems": [problem.message for problem in problems]}
    with transaction.atomic():
        return enqueue(template=ALERT_TEMPLATE, to=addresses, context=context, priority=Email.Priority.HIGH)


def alerts_check(*, now: datetime | None = None) -> dict:
    """Log every current problem at ERROR; email ADMINS about them at most once per interval.

    Returns ``{"problems": [kind, ...], "cleared": [kind, ...], "notified": n}`` where n
    is the number of alert emails queued by this call (0 when throttled, or when
    ADMINS is empty) and ``cleared`` the kinds the previous check found and this one
    does not.
    """
    problems = find_problems(now=now)
    for problem in problems:
        logger.error("mailer alert: %s", problem.message)
    cleared = _cleared(problems)
    for kind in cleared:
        logger.info("mailer alert cleared: %s", kind)
    notified = 0
    if problems and settings.ADMINS and _take_notify_slot():
        notified = len(_notify_admins(problems))
    return {"problems": [problem.kind for problem in problems], "cleared": cleared, "notified": notified}
