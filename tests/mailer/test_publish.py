"""Publishing from a process that is only Django (a web server, a shell, a command)."""

import os
import subprocess
import sys

from django.conf import settings
from django.db import connection

from mailer.models import Email

from .test_pipeline import wait_final

SCRIPT = """
import django
django.setup()
from django.db import transaction
from mailer import api
with transaction.atomic():
    api.enqueue(template="accounts/email/welcome", to="web@example.com",
                context={"first_name": "Web", "username": "web", "login_url": "https://electnepal.test/"})
"""


def test_an_email_queued_by_a_plain_django_process_reaches_the_worker(e2e, ses):
    # Such a process never imports the worker package itself: the Celery app must
    # come with Django, or the task would go to Celery's default broker.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "electnepal.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, cwd=settings.BASE_DIR, timeout=60)
    email = Email.objects.get(to="web@example.com")
    assert wait_final(email).status == Email.Status.SENT
    assert [m["To"] for m in ses.sent()] == ["web@example.com"]
