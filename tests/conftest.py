"""Real services for the suite: PostgreSQL, Redis, one Celery worker, SES and SMTP sinks.

- ``mail_worker``: the project's Celery app (worker.app) consuming every queue from
  Redis in a thread pool, started once per session.
- ``ses``: email goes through django-ses → boto3 → HTTP → moto (LocalSES), with
  the sender verified and fault injection at hand.
- ``smtp``: email goes through Django's SMTP backend to an aiosmtpd sink.
- ``e2e``: a transactional test (on_commit fires, the worker sees the rows) with
  the worker running.
- ``private_redis``: a redis-server of the test's own, to stop, start or read.

And what tests in several folders share: ``user`` (a verified account) and the rate
limits on (``limits_on``: every rate high, a test lowers the one under test;
``default_limits_on``: the settings' own rates).

Helpers are in tests/support; this file holds fixtures only.
"""

import boto3
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from tests.support.processes import RedisServer
from tests.support.ses import LocalSES
from tests.support.smtp import SMTPSink

SENDER = "no-reply@electnepal.test"


@pytest.fixture(scope="session", autouse=True)
def _fresh_email_log():
    """Row ids restart with each test database: start each session with an empty log."""
    (django_settings.LOG_DIR / "email.log").write_text("")


@pytest.fixture(scope="session")
def redis_client():
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.ping()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _fresh_cache(redis_client):
    """Rate-limit counters and cache entries never leak from one test into the next."""
    for key in redis_client.scan_iter("electnepal:*"):
        redis_client.delete(key)


@pytest.fixture(scope="session")
def local_ses():
    server = LocalSES().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SMTPSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def mail_worker(django_db_setup, django_db_blocker, redis_client):
    from worker import app

    # The worker thread opens its own connections to the test database.
    with (
        django_db_blocker.unblock(),
        start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
        ) as worker,
    ):
        yield worker


@pytest.fixture
def ses(settings, local_ses):
    """Send through django-ses (SES v2) to the local SES endpoint, sender verified."""
    local_ses.reset()
    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    settings.AWS_SES_REGION_ENDPOINT_URL = local_ses.url
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.USE_SES_V2 = True
    client = boto3.client(
        "sesv2",
        region_name=settings.AWS_SES_REGION_NAME,
        endpoint_url=local_ses.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_email_identity(EmailIdentity=SENDER)
    return local_ses


@pytest.fixture
def smtp(settings, smtp_sink):
    """Send through Django's SMTP backend to the aiosmtpd sink."""
    smtp_sink.reset()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_sink.port
    settings.EMAIL_USE_TLS = False
    return smtp_sink


@pytest.fixture
def e2e(transactional_db, mail_worker):
    """Committed transactions and a running worker: the pipeline as in production."""
    return mail_worker


@pytest.fixture
def private_redis():
    server = RedisServer().start()
    yield server
    server.cleanup()


# --- Shared by tests in several folders -----------------------------------------------


@pytest.fixture
def user(db):
    """A verified account (ram), with a known password."""
    from django.utils import timezone

    from accounts.models import User
    from tests.support.accounts import PASSWORD

    user = User(username="ram", email="ram@example.com", email_verified_at=timezone.now())
    user.set_password(PASSWORD)
    user.save()
    return user


HIGH = "1000/h"


@pytest.fixture
def limits_on(settings):
    """Rate limits on, every rate high: a test sets the one it is about."""
    settings.RATELIMIT_ENABLE = True
    for name in (
        "RATELIMIT_SIGNUP",
        "RATELIMIT_EMAIL_FORM_IP",
        "RATELIMIT_EMAIL_FORM_ADDRESS",
        "RATELIMIT_LINK_FORM_IP",
        "RATELIMIT_LINK_FORM_LINK",
        "RATELIMIT_LOGIN_FAILURES_IP",
        "RATELIMIT_LOGIN_FAILURES_IP_USERNAME",
        "RATELIMIT_LOGIN_FAILURES_USERNAME",
    ):
        setattr(settings, name, HIGH)
    return settings


@pytest.fixture
def default_limits_on(settings):
    """Rate limits on, at the rates the settings give."""
    settings.RATELIMIT_ENABLE = True
