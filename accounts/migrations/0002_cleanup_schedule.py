"""The nightly cleanup's beat schedule, kept in django-celery-beat's tables.

02:00 in Nepal, when the site is quietest. A data migration rather than
CELERY_BEAT_SCHEDULE (see mailer 0003): beat writes that setting over the database
at every start, which would undo what ops change in the admin.
"""

from django.db import migrations

TASK = "accounts.cleanup"
NAME = "accounts: nightly cleanup"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Kathmandu",
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "crontab": nightly,
            "interval": None,
            "enabled": True,
            "queue": "default",
            "description": "Deletes expired and used tokens, accounts never verified, and outbox "
            "emails past their retention (manage.py cleanup_tokens runs it by hand).",
        },
    )
    # Tell a running beat that the schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()
    # The crontab row stays (another task may use it), as mailer 0003 leaves its interval.
    from django.utils import timezone

    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
