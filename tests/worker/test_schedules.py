"""``migrate`` writes every job of worker.schedules into beat's tables, and never undoes an operator's edit."""

import json
import os
import subprocess
import sys

from django.conf import settings

from worker.schedules import JOBS

SHOW = """
import json, django
django.setup()
from django_celery_beat.models import PeriodicTask, PeriodicTasks
rows = {}
for t in PeriodicTask.objects.select_related("crontab", "interval"):
    c, i = t.crontab, t.interval
    rows[t.name] = [t.task, t.queue, t.enabled,
                    c and [c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, str(c.timezone)],
                    i and [i.every, i.period]]
print(json.dumps({"jobs": rows, "touched": PeriodicTasks.objects.filter(ident=1).exists()}))
"""


def _run(env, *args) -> str:
    return subprocess.run(
        [sys.executable, *args], env=env, check=True, capture_output=True, text=True, cwd=settings.BASE_DIR
    ).stdout.strip()


def test_migrate_installs_every_job_and_keeps_what_ops_changed(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    _run(env, "manage.py", "migrate", "-v0")
    state = json.loads(_run(env, "-c", SHOW))
    assert state["touched"] is True  # a running beat re-reads the schedule
    expected = {
        job.name: [
            job.task,
            job.queue,
            True,
            [job.crontab[f] for f in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year", "timezone")]
            if job.crontab
            else None,
            list(job.every) if job.every else None,
        ]
        for job in JOBS
    }
    assert state["jobs"] == expected
    assert state["jobs"]["accounts: nightly cleanup"][3] == ["0", "2", "*", "*", "*", "Asia/Kathmandu"]
    assert state["jobs"]["mailer: outbox sweeper"][4] == [30, "seconds"]

    # An operator disables the sweeper and deletes the alerts job in the admin; the next deploy migrates.
    _run(
        env,
        "-c",
        "import django; django.setup(); from django_celery_beat.models import PeriodicTask as P; "
        "P.objects.filter(name='mailer: outbox sweeper').update(enabled=False); "
        "P.objects.filter(name='mailer: alerts').delete()",
    )
    _run(env, "manage.py", "migrate", "-v0")
    again = json.loads(_run(env, "-c", SHOW))["jobs"]
    assert again["mailer: outbox sweeper"][2] is False  # the edit stays
    assert again["mailer: alerts"] == expected["mailer: alerts"]  # a missing job comes back
