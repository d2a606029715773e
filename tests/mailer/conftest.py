"""Fixtures the mailer's folders share.

- ``staff_client``: a client logged in as a superuser (the admin's email log, "send again").
- ``metrics_token``: the bearer token of ``/mailer/metrics/`` configured (tests.support.metrics.TOKEN).
- ``worker_env``: the environment of a worker process started by a test: the test database,
  ``private_redis`` as the broker, local SES.
- ``local_sns`` / ``sns``: a local SNS whose topic, certificate host and TLS CA the webhook
  trusts; ``webhook``: a client posting with CSRF checks on.
"""

import pytest
from django.db import connection
from django.test import Client

from accounts.models import User
from mailer.ses import signatures
from tests.support.database import database_url
from tests.support.metrics import TOKEN
from tests.support.mfa import staff_login
from tests.support.sns import TOPIC_ARN, LocalSNS


@pytest.fixture
def staff_client(client, db):
    admin = User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082")
    staff_login(client, admin)
    return client


@pytest.fixture
def metrics_token(settings):
    settings.MAILER_METRICS_TOKEN = TOKEN


@pytest.fixture
def worker_env(ses, private_redis):
    """Environment of a worker process: test database, private broker, local SES."""
    return {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection),
        "REDIS_URL": private_redis.url,
        "EMAIL_BACKEND": "django_ses.SESBackend",
        "AWS_SES_REGION_ENDPOINT_URL": ses.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # Short leases, renewed by the worker's keeper: a dead worker's emails go out in seconds.
        "MAILER_LEASE_SECONDS": "3",
        "MAILER_KEEPER_SECONDS": "0.5",
    }


@pytest.fixture(scope="session")
def local_sns():
    server = LocalSNS().start()
    yield server
    server.stop()


@pytest.fixture
def sns(local_sns, settings, monkeypatch):
    """The view trusts the local SNS's topic and TLS CA; SNS's host names lead to it.

    The certificate host rule is production's (AWS_SNS_EVENT_CERT_TRUSTED_DOMAINS is
    left as settings.py makes it): the server answers as sns.us-east-1.amazonaws.com.
    """
    local_sns.reset()
    signatures.clear_certificate_cache()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(local_sns.ca_bundle))
    local_sns.resolve_here(monkeypatch)
    settings.AWS_SNS_EVENT_TRUSTED_TOPIC_ARNS = [TOPIC_ARN]
    return local_sns


@pytest.fixture
def webhook():
    return Client(enforce_csrf_checks=True)
