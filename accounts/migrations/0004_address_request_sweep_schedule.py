"""The address-request sweep's beat schedule (every minute), in django-celery-beat's tables.

A data migration rather than CELERY_BEAT_SCHEDULE, as 0002 and mailer 0003: beat
writes that setting over the database at every start.
"""

from django.db import migrations

TASK = "accounts.address_request_sweep"
NAME = "accounts: address request sweep"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": every_minute,
            "crontab": None,
            "enabled": True,
            "queue": "default",
            "description": "Handles resend-verification and forgot-password requests whose task "
            "was never published (broker down at commit time).",
        },
    )
    # Tell a running beat that the schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_address_requests_and_reset_fingerprint"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
