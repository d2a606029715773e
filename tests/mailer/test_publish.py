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


def test_messages_on_the_broker_carry_only_the_row_id(transactional_db, settings):
    """What Flower and anyone with broker access see: a task name and an id, no address or link."""
    import base64
    import json

    import redis
    from django.test import Client

    from accounts.models import AddressRequest
    from tests.accounts.helpers import handle_address_requests, signup
    from tests.support.processes import RedisServer, broker
    from worker import app

    private = RedisServer().start()  # no worker listens: the messages stay for us to read
    try:
        with broker(app, private.url):
            client = Client()
            assert signup(client).status_code == 302
            assert client.post("/auth/forgot-password/", {"email": "sita@example.com"}).status_code == 302
            request_ids = list(AddressRequest.objects.values_list("pk", flat=True))
            assert handle_address_requests() == 1  # as the worker would: queues the reset email
        raw = redis.Redis.from_url(private.url).lrange(settings.MAILER_QUEUES["high"], 0, -1)
    finally:
        private.cleanup()
    ids = sorted(Email.objects.values_list("pk", flat=True))
    assert len(ids) == 2  # the verification email and the reset link
    published = {"mailer.deliver": [], "accounts.address_request": []}
    for message in map(json.loads, raw):
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert kwargs == {} and message["headers"]["argsrepr"] == f"({args[0]},)"
        published[message["headers"]["task"]].extend(args)
        text = json.dumps(message) + base64.b64decode(message["body"]).decode()
        assert "example.com" not in text and "sita" not in text.lower() and "/auth/" not in text
    assert sorted(published["mailer.deliver"]) == ids
    # The forgot-password post itself publishes only its request's id.
    assert published["accounts.address_request"] == request_ids and len(request_ids) == 1
