"""Settings for the test suite: the project's settings, pointed at the test services.

Real PostgreSQL and Redis (database 15), as on production; only what the
environment does not say is filled in here.
"""

import hashlib
import os

os.environ["READ_DOT_ENV"] = "false"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/electnepal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# Derived, not written here: as strong as electnepal/startup_checks.py asks without DEBUG,
# and the same in every process the suite starts.
os.environ.setdefault(
    "SECRET_KEY", hashlib.sha256(b"electnepal-suite:" + os.path.abspath(__file__).encode()).hexdigest()
)
os.environ.setdefault("SITE_URL", "https://electnepal.test")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,electnepal.test")
os.environ.setdefault("RATELIMIT_ENABLE", "false")
os.environ.setdefault("AWS_SES_REGION_NAME", "us-east-1")
# Retries in milliseconds rather than minutes, so a retried email arrives within a test.
os.environ.setdefault("MAILER_RETRY_BASE_SECONDS", "0.05")
os.environ.setdefault("MAILER_RETRY_CAP_SECONDS", "0.2")
# The limiter is on in every test, with a rate that does not slow the suite down;
# the tests of the limiter set their own.
os.environ.setdefault("MAILER_MAX_SEND_RATE", "1000")
# No keeper thread in the test process: it would take back, between a test's own
# steps, the leases a test sets up; the tests of recovery start worker processes.
os.environ.setdefault("MAILER_KEEPER_SECONDS", "0")
# Provider errors pause sending for tenths of a second here, not seconds.
os.environ.setdefault("MAILER_PAUSE_BASE_SECONDS", "0.05")
os.environ.setdefault("MAILER_PAUSE_CAP_SECONDS", "0.5")
# Worker threads close their connections after each task, so that the test
# database can be flushed and dropped.
os.environ.setdefault("CONN_MAX_AGE", "0")
os.environ.setdefault("CELERY_DB_REUSE_MAX", "0")
os.environ.setdefault("LOG_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test-logs"))

from electnepal.settings import *  # noqa: F403

DEFAULT_FROM_EMAIL = "ElectNepal <no-reply@electnepal.test>"
# PBKDF2 at production strength costs ~0.3 s per hash on this machine; the flows, not
# the hasher, are under test here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Metrics are written at once, so that a test's observations are in Redis when it
# reads them and never flushed into the next test; tests/mailer/sending/test_counters.py
# checks the buffered writes of production on their own.
MAILER_METRICS_FLUSH_SECONDS = 0
# The suite runs without collectstatic: WhiteNoise looks static files up per request, as
# in development, instead of warning at every start that STATIC_ROOT is missing.
WHITENOISE_AUTOREFRESH = True
