"""Beat schedules kept in django-celery-beat's tables, written by data migrations.

A data migration rather than CELERY_BEAT_SCHEDULE: beat writes that setting over
the database at every start, which would undo what ops change in the admin. Each
app's migration names its task and its timing; these two functions do the rest,
on the migration's historical models (``apps``), so that they import no project app.
"""

from django.utils import timezone


def _touch(apps) -> None:
    # Tell a running beat (DatabaseScheduler) that the schedule changed.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def schedule_install(
    apps,
    *,
    name: str,
    task: str,
    description: str,
    every: tuple[int, str] | None = None,
    crontab: dict | None = None,
    queue: str = "default",
) -> None:
    """Create or update the periodic task ``name``: every ``(n, period)``, or at ``crontab`` (its fields)."""
    if (every is None) == (crontab is None):
        raise ValueError("give either every=(n, period) or crontab={...}")
    interval = schedule = None
    if every:
        interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
            every=every[0], period=every[1]
        )
    else:
        schedule, _ = apps.get_model("django_celery_beat", "CrontabSchedule").objects.get_or_create(**crontab)
    apps.get_model("django_celery_beat", "PeriodicTask").objects.update_or_create(
        name=name,
        defaults={"task": task, "interval": interval, "crontab": schedule, "enabled": True, "queue": queue,
                  "description": description},
    )
    _touch(apps)


def schedule_remove(apps, *, name: str) -> None:
    """Delete the periodic task ``name``; its interval or crontab row stays (others may use it)."""
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()
    _touch(apps)
