"""Every periodic job of the project, listed here and nowhere else.

beat runs django-celery-beat's DatabaseScheduler, so the schedule lives in the
database, where ops can change a timing or disable a job in the admin. ``migrate``
writes it there (``install``, on post_migrate; see worker.apps): a job missing
from the database is created as listed below; a job that is there already is left
as it is, so nothing an operator changed is undone. CELERY_BEAT_SCHEDULE is not
used: beat writes that setting over the database at every start.

Task names only: this package imports no project app.
"""

from dataclasses import dataclass, field

from django.utils import timezone

KATHMANDU = "Asia/Kathmandu"


@dataclass(frozen=True)
class Job:
    """One periodic task: ``every=(n, period)`` or ``crontab={field: value}``, on ``queue``."""

    name: str
    task: str
    description: str
    every: tuple[int, str] | None = None
    crontab: dict = field(default_factory=dict)
    queue: str = "default"


def _nightly(hour: int, minute: int = 0) -> dict:
    return {
        "minute": str(minute),
        "hour": str(hour),
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": KATHMANDU,
    }


JOBS = (
    Job(
        name="accounts: nightly cleanup",
        task="accounts.cleanup",
        crontab=_nightly(2),
        description="Deletes expired and used tokens and accounts never verified "
        "(manage.py cleanup_tokens runs it by hand). 02:00 in Nepal, when the site is quietest.",
    ),
    Job(
        name="accounts: address request sweep",
        task="accounts.address_request_sweep",
        every=(60, "seconds"),
        description="Handles resend-verification and forgot-password requests whose task "
        "was never published (broker down at commit time).",
    ),
    Job(
        name="mailer: outbox sweeper",
        task="mailer.sweep",
        every=(30, "seconds"),
        description="Publishes due outbox rows that have no delivery task on its way and "
        "takes back claims of workers that died mid-send.",
    ),
    Job(
        name="candidates: staff digest",
        task="candidates.staff_digest",
        every=(60, "seconds"),
        description="Emails each reviewer one digest of the submissions made since the last staff email, "
        "once CANDIDATES_STAFF_DIGEST_SECONDS have passed since it (the first submission in a quiet "
        "window is announced at once).",
    ),
    Job(
        name="mailer: alerts",
        task="mailer.alerts",
        every=(5, "minutes"),
        description="Logs at ERROR and emails ADMINS (at most hourly) when the bounce or complaint "
        "rate passes half of SES's review threshold or a queued email waits over 10 minutes.",
    ),
    Job(
        name="mailer: retention",
        task="mailer.retention",
        crontab=_nightly(2, 30),
        description="Deletes sent, failed, expired and suppressed emails older than MAILER_RETENTION_DAYS, "
        "with their SES events (manage.py purge_emails runs it by hand).",
    ),
)


def install(apps, jobs=JOBS, *, using: str = "default") -> list[str]:
    """Create each of ``jobs`` that database ``using`` lacks (by name); return the names created.

    ``apps``: an app registry holding django_celery_beat's models (the global one,
    or a migration's). Existing jobs are not touched. A running beat is told that
    the schedule changed when anything was created.
    """

    def model(name):
        return apps.get_model("django_celery_beat", name).objects.db_manager(using)

    PeriodicTask = model("PeriodicTask")
    existing = set(PeriodicTask.filter(name__in=[job.name for job in jobs]).values_list("name", flat=True))
    created = []
    for job in jobs:
        if job.name in existing:
            continue
        interval = crontab = None
        if job.every:
            interval, _ = model("IntervalSchedule").get_or_create(every=job.every[0], period=job.every[1])
        else:
            crontab, _ = model("CrontabSchedule").get_or_create(**job.crontab)
        PeriodicTask.create(
            name=job.name,
            task=job.task,
            interval=interval,
            crontab=crontab,
            queue=job.queue,
            description=job.description,
            enabled=True,
        )
        created.append(job.name)
    if created:
        model("PeriodicTasks").update_or_create(ident=1, defaults={"last_update": timezone.now()})
    return created
