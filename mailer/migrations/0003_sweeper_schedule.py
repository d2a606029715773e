"""The outbox sweeper's beat schedule, kept in django-celery-beat's tables.

A data migration rather than CELERY_BEAT_SCHEDULE: beat writes that setting over
the database at every start, which would undo what ops change in the admin.
"""

from django.db import migrations

TASK = "mailer.sweep"
NAME = "mailer: outbox sweeper"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": every_30s,
            "crontab": None,
            "enabled": True,
            "queue": "default",
            "description": "Publishes due outbox rows that have no delivery task on its way and "
            "takes back claims of workers that died mid-send.",
        },
    )
    # Tell a running beat that the schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mailer", "0002_delivery_guarantees"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
