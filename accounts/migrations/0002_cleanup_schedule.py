"""The nightly cleanup's beat schedule, kept in django-celery-beat's tables.

02:00 in Nepal, when the site is quietest. A data migration rather than
CELERY_BEAT_SCHEDULE (see mailer 0003): beat writes that setting over the database
at every start, which would undo what ops change in the admin.
"""

from django.db import migrations

from worker.schedules import schedule_install, schedule_remove

TASK = "accounts.cleanup"
NAME = "accounts: nightly cleanup"
DESCRIPTION = (
    "Deletes expired and used tokens, accounts never verified, and outbox "
    "emails past their retention (manage.py cleanup_tokens runs it by hand)."
)


def create_schedule(apps, schema_editor):
    nightly = {"minute": "0", "hour": "2", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
    schedule_install(
        apps, name=NAME, task=TASK, description=DESCRIPTION, crontab={**nightly, "timezone": "Asia/Kathmandu"}
    )


def remove_schedule(apps, schema_editor):
    schedule_remove(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
