"""The address-request sweep's beat schedule (every minute), in django-celery-beat's tables.

A data migration rather than CELERY_BEAT_SCHEDULE, as 0002 and mailer 0003: beat
writes that setting over the database at every start.
"""

from django.db import migrations

from worker.schedules import schedule_install, schedule_remove

TASK = "accounts.address_request_sweep"
NAME = "accounts: address request sweep"
DESCRIPTION = (
    "Handles resend-verification and forgot-password requests whose task "
    "was never published (broker down at commit time)."
)


def create_schedule(apps, schema_editor):
    schedule_install(apps, name=NAME, task=TASK, description=DESCRIPTION, every=(60, "seconds"))


def remove_schedule(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_address_requests_and_reset_fingerprint"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
