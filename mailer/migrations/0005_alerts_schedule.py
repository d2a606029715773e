"""The alerts check's beat schedule, every 5 minutes, in django-celery-beat's tables (see 0003)."""

from django.db import migrations

from worker.schedules import schedule_install, schedule_remove

TASK = "mailer.alerts"
NAME = "mailer: alerts"
DESCRIPTION = (
    "Logs at ERROR and emails ADMINS (at most hourly) when the bounce or complaint "
    "rate passes half of SES's review threshold or a queued email waits over 10 minutes."
)


def create_schedule(apps, schema_editor):
    schedule_install(apps, name=NAME, task=TASK, description=DESCRIPTION, every=(5, "minutes"))


def remove_schedule(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("mailer", "0004_emailevent_sns_message_id"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
