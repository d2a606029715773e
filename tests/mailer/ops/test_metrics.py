"""``GET /mailer/metrics/``: values against known rows, access, failure modes.

Every scrape goes through the URL and is parsed with prometheus_client's own parser,
so the exposition format is checked by every test. What the workers' counters add is
in sending/test_counters.py.
"""

import math
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from mailer.models import Email
from mailer.sending import counters, limiter
from tests.support.metrics import TOKEN, URL, histogram, scrape, value
from tests.support.outbox import TEMPLATE

pytestmark = pytest.mark.usefixtures("metrics_token")
HOUR = timedelta(hours=1)
Status = Email.Status


def make_email(template, status, *, created_ago, due_in=timedelta(0)) -> Email:
    now = timezone.now()
    email = Email.objects.create(
        template=template, to="someone@example.com", status=status, next_attempt_at=now + due_in
    )
    Email.objects.filter(pk=email.pk).update(created_at=now - created_ago)  # auto_now_add ignores the argument
    return email


# --- The database: emails by status and kind, the backlog -----------------------------


def test_emails_by_status_and_kind_and_the_backlog(db, client):
    verification, welcome, reset = (
        "accounts/email/verification",
        "accounts/email/welcome",
        "accounts/email/password_reset",
    )
    make_email(verification, Status.SENT, created_ago=HOUR)
    make_email(verification, Status.SENT, created_ago=5 * HOUR)
    make_email(verification, Status.FAILED, created_ago=6 * HOUR)
    make_email(welcome, Status.QUEUED, created_ago=HOUR / 2)  # queued and due
    make_email(welcome, Status.QUEUED, created_ago=HOUR, due_in=HOUR)  # queued, retry in an hour
    make_email(welcome, Status.SENDING, created_ago=HOUR / 4)
    make_email(reset, Status.SENT, created_ago=30 * HOUR)  # before the 24 h window: not counted
    make_email(reset, Status.QUEUED, created_ago=40 * HOUR)  # outside the window, but the oldest queued

    samples = scrape(client)

    emails = {key: n for key, n in samples.items() if key[0] == "electnepal_mailer_emails"}
    expected = {
        ("verification", "sent"): 2,
        ("verification", "failed"): 1,
        ("welcome", "queued"): 2,
        ("welcome", "sending"): 1,
    }
    # Every status of every kind in the window, zeros included; the reset kind is outside it.
    assert emails == {
        ("electnepal_mailer_emails", ("kind", kind), ("status", status)): float(expected.get((kind, status), 0))
        for kind in ("verification", "welcome")
        for status in Status.values
    }
    assert value(samples, "electnepal_mailer_queued_emails") == 3
    assert value(samples, "electnepal_mailer_queued_due_emails") == 2
    assert value(samples, "electnepal_mailer_oldest_queued_seconds") == pytest.approx(40 * 3600, abs=30)
    assert value(samples, "electnepal_mailer_metrics_source_up", source="database") == 1
    assert value(samples, "electnepal_mailer_metrics_source_up", source="redis") == 1


def test_an_empty_outbox(db, client):
    samples = scrape(client)
    assert not [key for key in samples if key[0] == "electnepal_mailer_emails"]
    assert value(samples, "electnepal_mailer_queued_emails") == 0
    assert value(samples, "electnepal_mailer_oldest_queued_seconds") == 0
    # Histograms and counters exist from the start, at zero, so rate() has a baseline.
    buckets, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority="high")
    assert count == total == 0 and buckets[-1] == (math.inf, 0)
    assert value(samples, "electnepal_mailer_limiter_waits_total") == 0


def test_quota_use(db, client, settings):
    settings.MAILER_MAX_24H_SEND = 7
    assert limiter.reserve(3).count == 3
    samples = scrape(client)
    assert value(samples, "electnepal_mailer_quota_used") == 3
    assert value(samples, "electnepal_mailer_quota_limit") == 7


# --- Failure modes: never a 500, never a failed send ----------------------------------


def test_redis_down_leaves_the_database_metrics_and_sends_alone(db, client, settings):
    make_email(TEMPLATE, Status.QUEUED, created_ago=HOUR)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    counters.record_send(latency_s=1.0, duration_s=0.1, priority="bulk")  # swallowed
    counters.record_limiter_wait(0.5)

    samples = scrape(client)

    assert value(samples, "electnepal_mailer_metrics_source_up", source="redis") == 0
    assert value(samples, "electnepal_mailer_metrics_source_up", source="database") == 1
    assert value(samples, "electnepal_mailer_queued_emails") == 1
    assert value(samples, "electnepal_mailer_send_latency_seconds_count", priority="bulk") is None


# --- Access ---------------------------------------------------------------------------


def test_anonymous_gets_a_401_challenge(db, client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert "electnepal_mailer" not in response.content.decode()


def test_a_user_who_is_not_staff_gets_403(db, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ram", "ram@example.com", "pw-long-enough-2082"))
    response = client.get(URL)
    assert response.status_code == 403
    assert "electnepal_mailer" not in response.content.decode()


def test_staff_without_the_second_factor_get_403(db, client, django_user_model, settings):
    settings.MAILER_METRICS_TOKEN = ""
    staff = django_user_model.objects.create_user("asha", "asha@example.com", "pw-long-enough-2082", is_staff=True)
    client.force_login(staff)  # password only
    response = client.get(URL)
    assert response.status_code == 403
    assert "electnepal_mailer" not in response.content.decode()


def test_staff_session_gets_the_metrics(db, client, django_user_model, settings):
    from tests.support.mfa import staff_login

    settings.MAILER_METRICS_TOKEN = ""  # no token configured: staff only
    staff = django_user_model.objects.create_user("asha", "asha@example.com", "pw-long-enough-2082", is_staff=True)
    staff_login(client, staff)
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "electnepal_mailer_emails",
        "electnepal_mailer_send_latency_seconds",
        "electnepal_mailer_limiter_waits",
    } <= names


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", "Bearer पासवर्ड", f"bearer  {TOKEN}x"],
)
def test_a_wrong_token_is_refused(db, client, header):
    response = client.get(URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "electnepal_mailer" not in response.content.decode()


def test_the_right_token_is_accepted_in_any_case_of_the_scheme(db, client):
    assert client.get(URL, HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200


def test_no_token_configured_means_no_token_works(db, client, settings):
    settings.MAILER_METRICS_TOKEN = ""
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_only_get(db, client):
    assert client.post(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405
