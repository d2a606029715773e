"""``GET /mailer/metrics/``: values against known rows and real sends, access, failure modes.

Every scrape goes through the URL and is parsed with prometheus_client's own parser,
so the exposition format is checked by every test.
"""

import math
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from mailer import api as mail
from mailer.outbox import delivery as services
from mailer.sending import counters as metrics
from mailer.sending import limiter
from mailer.models import Email
from tests.conftest import wait_for

URL = "/mailer/metrics/"
TOKEN = "not-a-real-token"  # short: no credential-shaped string (tests/test_repository.py)
HOUR = timedelta(hours=1)
Status = Email.Status
TEMPLATE = "accounts/email/welcome"
CONTEXT = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}


@pytest.fixture(autouse=True)
def _token(settings):
    settings.MAILER_METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple, float]:
    """One authorised scrape as {(sample name, (label, value)...): value}."""
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, *sorted(labels.items())))


def histogram(samples: dict, name: str, **labels) -> tuple[list[tuple[float, float]], float, float]:
    """(buckets as (le, cumulative count) in order, count, sum) of histogram ``name``."""
    buckets = sorted(
        (float(dict(key[1:])["le"]), n)
        for key, n in samples.items()
        if key[0] == f"{name}_bucket" and {k: v for k, v in key[1:] if k != "le"} == labels
    )
    return buckets, value(samples, f"{name}_count", **labels), value(samples, f"{name}_sum", **labels)


def make_email(template, status, *, created_ago, due_in=timedelta(0)) -> Email:
    now = timezone.now()
    email = Email.objects.create(template=template, to="someone@example.com", status=status, next_attempt_at=now + due_in)
    Email.objects.filter(pk=email.pk).update(created_at=now - created_ago)  # auto_now_add ignores the argument
    return email


# --- The database: emails by status and kind, the backlog ----------------------------------


def test_emails_by_status_and_kind_and_the_backlog(db, client):
    verification, welcome, reset = "accounts/email/verification", "accounts/email/welcome", "accounts/email/password_reset"
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
    expected = {("verification", "sent"): 2, ("verification", "failed"): 1, ("welcome", "queued"): 2, ("welcome", "sending"): 1}
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


# --- Redis: the workers' shared counters -----------------------------------------------------


def test_observations_land_in_cumulative_buckets(db, client, redis_client):
    # 0.1 is a bound: Prometheus buckets are "less than or equal".
    for latency, duration in ((0.1, 0.02), (0.3, 0.2), (5000.0, 20.0)):
        metrics.record_send(latency_s=latency, duration_s=duration, priority="bulk")
    metrics.record_send(latency_s=-1.0, duration_s=0.01, priority="high")  # clocks apart: counted as 0

    samples = scrape(client)

    buckets, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority="bulk")
    assert (count, total) == (3, pytest.approx(5000.4))
    assert dict(buckets)[0.1] == 1 and dict(buckets)[0.25] == 1 and dict(buckets)[0.5] == 2
    assert dict(buckets)[3600.0] == 2 and dict(buckets)[math.inf] == 3
    assert [le for le, _ in buckets] == [*metrics.LATENCY_BUCKETS, math.inf]
    high, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority="high")
    assert (count, total, high[0]) == (1, 0, (0.1, 1))
    duration, count, total = histogram(samples, "electnepal_mailer_send_duration_seconds")
    assert (count, total) == (4, pytest.approx(20.23))
    assert dict(duration)[0.025] == 2 and dict(duration)[0.25] == 3 and dict(duration)[15.0] == 3
    # The counters live under the limiter's key prefix, which conftest cleans between tests.
    assert metrics.HASH_KEY.startswith("electnepal:mailer:") and limiter.RATE_KEY.startswith("electnepal:mailer:")
    assert redis_client.exists(metrics.HASH_KEY)


def test_latency_and_duration_of_emails_sent_by_the_worker(e2e, ses, client):
    ses.faults.delay = 0.3  # SES takes its time: every send call lasts at least this long
    with transaction.atomic():
        mail.enqueue(template=TEMPLATE, to=[f"m{i}@example.com" for i in range(4)], context=CONTEXT)
        mail.enqueue(template=TEMPLATE, to="urgent@example.com", context=CONTEXT, priority="high")
    wait_for(
        lambda: Email.objects.filter(status=Status.SENT).count() == 5, timeout=30, message="the five emails to be sent"
    )
    # The worker records right after the row turns sent.
    wait_for(
        lambda: value(scrape(client), "electnepal_mailer_send_duration_seconds_count") == 5,
        message="five recorded sends",
    )

    samples = scrape(client)

    for priority, sent in (("bulk", 4), ("high", 1)):
        buckets, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority=priority)
        assert count == sent
        counts = [n for _, n in buckets]
        assert counts == sorted(counts) and counts[-1] == count  # cumulative, +Inf is the count
        assert dict(buckets)[0.25] == 0  # nothing can be accepted sooner than SES's delay
        assert total >= 0.3 * sent
    duration, count, total = histogram(samples, "electnepal_mailer_send_duration_seconds")
    assert count == 5 and dict(duration)[0.25] == 0 and total >= 1.5
    latency_sum = sum(histogram(samples, "electnepal_mailer_send_latency_seconds", priority=p)[2] for p in ("bulk", "high"))
    assert latency_sum >= total  # created → accepted contains the send call


def test_a_wait_for_a_send_slot_is_recorded(db, ses, client, settings):
    settings.MAILER_MAX_SEND_RATE = 1  # one send per ~1.03 s
    interval = limiter._interval()
    emails = [
        Email.objects.create(template=TEMPLATE, to=f"slot{i}@example.com", context=CONTEXT, next_attempt_at=timezone.now(),
                             priority="high")
        for i in range(2)
    ]
    assert services.email_deliver(email_id=emails[0].pk) == Status.SENT
    assert value(scrape(client), "electnepal_mailer_limiter_waits_total") == 0  # the first slot was free
    assert services.email_deliver(email_id=emails[1].pk) == Status.SENT  # the second waits for its slot

    samples = scrape(client)

    assert value(samples, "electnepal_mailer_limiter_waits_total") == 1
    assert 0 < value(samples, "electnepal_mailer_limiter_wait_seconds_total") <= interval
    assert value(samples, "electnepal_mailer_send_duration_seconds_count") == 2


def test_a_worker_writes_its_observations_at_most_once_per_interval(db, client, settings, redis_client, monkeypatch):
    settings.MAILER_METRICS_FLUSH_SECONDS = 0.3
    metrics.flush()  # nothing pending from before
    calls = []
    real_record = metrics._record
    # Counts the writes; each still goes to the real Redis.
    monkeypatch.setattr(metrics, "_record", lambda fields: (calls.append(fields), real_record(fields)))
    for _ in range(50):
        metrics.record_send(latency_s=0.2, duration_s=0.02, priority="bulk")
    metrics.record_limiter_wait(0.25)
    assert not redis_client.exists(metrics.HASH_KEY)  # held in the process for now

    wait_for(lambda: calls, timeout=5, message="the timed write")

    assert len(calls) == 1  # 51 observations, one Redis pipeline
    samples = scrape(client)
    _, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority="bulk")
    assert (count, total) == (50, pytest.approx(10.0))
    assert value(samples, "electnepal_mailer_limiter_waits_total") == 1
    assert value(samples, "electnepal_mailer_limiter_wait_seconds_total") == pytest.approx(0.25)


def test_pending_observations_are_written_by_flush(db, client, settings):
    settings.MAILER_METRICS_FLUSH_SECONDS = 60
    metrics.record_send(latency_s=0.2, duration_s=0.02, priority="high")
    assert value(scrape(client), "electnepal_mailer_send_latency_seconds_count", priority="high") == 0

    metrics.flush()  # what the worker process does at exit

    assert value(scrape(client), "electnepal_mailer_send_latency_seconds_count", priority="high") == 1


def test_quota_use(db, client, settings):
    settings.MAILER_MAX_24H_SEND = 7
    limiter.reserve(3, max_ahead=60)
    samples = scrape(client)
    assert value(samples, "electnepal_mailer_quota_used") == 3
    assert value(samples, "electnepal_mailer_quota_limit") == 7


# --- Failure modes: never a 500, never a failed send -----------------------------------------


def test_redis_down_leaves_the_database_metrics_and_sends_alone(db, client, settings):
    make_email(TEMPLATE, Status.QUEUED, created_ago=HOUR)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    metrics.record_send(latency_s=1.0, duration_s=0.1, priority="bulk")  # swallowed
    metrics.record_limiter_wait(0.5)

    samples = scrape(client)

    assert value(samples, "electnepal_mailer_metrics_source_up", source="redis") == 0
    assert value(samples, "electnepal_mailer_metrics_source_up", source="database") == 1
    assert value(samples, "electnepal_mailer_queued_emails") == 1
    assert value(samples, "electnepal_mailer_send_latency_seconds_count", priority="bulk") is None


# --- Access ------------------------------------------------------------------------------------


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


def test_staff_session_gets_the_metrics(db, client, django_user_model, settings):
    settings.MAILER_METRICS_TOKEN = ""  # no token configured: staff only
    staff = django_user_model.objects.create_user("asha", "asha@example.com", "pw-long-enough-2082", is_staff=True)
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"electnepal_mailer_emails", "electnepal_mailer_send_latency_seconds", "electnepal_mailer_limiter_waits"} <= names


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
