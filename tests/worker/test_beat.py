"""A real ``celery -A worker beat`` against the DatabaseScheduler runs every job of worker.schedules."""

import contextlib
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

import redis
from django.apps import apps
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from tests.support.database import database_url
from tests.support.waits import wait_for
from worker import schedules

# Every periodic job, by the task it runs.
SCHEDULES = {job.name: job.task for job in schedules.JOBS}


def published_tasks(client: redis.Redis) -> list[str]:
    """Task names of the messages waiting in the ``default`` queue."""
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange("default", 0, -1)]


def test_beat_publishes_every_migrated_schedule_when_due(transactional_db, private_redis, tmp_path):
    # What `migrate` does after its migrations (post_migrate); the flush between
    # transactional tests does it too, so this may find every job there already.
    schedules.install(apps)
    # As if each last ran two days ago: the 02:00 crontab and the intervals are all due.
    PeriodicTask.objects.filter(task__in=SCHEDULES.values()).update(last_run_at=timezone.now() - timedelta(days=2))
    # django-celery-beat 2.9 loads a crontab task only within 2 hours of its hour, so
    # the 02:00 cleanup would be due, yet not looked at, for most of the day: move it
    # to this hour in its own time zone (the 02:00 itself is checked in test_cleanup.py).
    for crontab in CrontabSchedule.objects.filter(periodictask__task__in=SCHEDULES.values()):
        crontab.hour = str(timezone.now().astimezone(ZoneInfo(str(crontab.timezone))).hour)
        crontab.save()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection),
        "REDIS_URL": private_redis.url,
    }
    log = open(tmp_path / "beat.log", "w+")
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(tmp_path / "unused-shelve"),
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis.from_url(private_redis.url)
    try:
        names = wait_for(
            lambda: (names := published_tasks(client)) and set(SCHEDULES.values()) <= set(names) and names,
            timeout=30,
            message="beat to publish every scheduled job",
        )
    finally:
        beat.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            beat.wait(15)
        if beat.poll() is None:
            beat.kill()
        log.seek(0)
        output = log.read()
        log.close()
    assert "DatabaseScheduler" in output
    assert set(SCHEDULES.values()) <= set(names)
    # beat recorded each run in the database, where ops see it in the admin
    for task in PeriodicTask.objects.filter(task__in=SCHEDULES.values()):
        assert task.total_run_count >= 1, task.name
