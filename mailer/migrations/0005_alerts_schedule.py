"""The alerts check's beat schedule, every 5 minutes, in django-celery-beat's tables (see 0003)."""

from django.db import migrations

TASK = "mailer.alerts"
NAME = "mailer: alerts"


def create_schedule(apps, schema_editor):
    from django.utils import timezone

    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_5m, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": every_5m,
            "crontab": None,
            "enabled": True,
            "queue": "default",
            "description": "Logs at ERROR and emails ADMINS (at most hourly) when the bounce or complaint "
            "rate passes half of SES's review threshold or a queued email waits over 10 minutes.",
        },
    )
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mailer", "0004_emailevent_sns_message_id"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
