"""The outbox sweeper's beat schedule, kept in django-celery-beat's tables.

A data migration rather than CELERY_BEAT_SCHEDULE: beat writes that setting over
the database at every start, which would undo what ops change in the admin.
"""

from django.db import migrations

from worker.schedules import schedule_install, schedule_remove

TASK = "mailer.sweep"
NAME = "mailer: outbox sweeper"
DESCRIPTION = (
    "Publishes due outbox rows that have no delivery task on its way and "
    "takes back claims of workers that died mid-send."
)


def create_schedule(apps, schema_editor):
    schedule_install(apps, name=NAME, task=TASK, description=DESCRIPTION, every=(30, "seconds"))


def remove_schedule(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("mailer", "0002_delivery_guarantees"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
