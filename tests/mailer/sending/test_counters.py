"""The workers' shared counters (mailer.sending.counters), read back through ``GET /mailer/metrics/``.

What sends and limiter waits add, in cumulative buckets; written at most once per
interval, and by ``flush`` at exit. The endpoint itself is in ops/test_metrics.py.
"""

import math

import pytest
from django.db import transaction
from django.utils import timezone

from mailer import api as mail
from mailer.models import Email
from mailer.outbox.delivery import Dispatcher
from mailer.sending import counters, limiter, transport
from tests.support.metrics import histogram, scrape, value
from tests.support.outbox import CONTEXT, TEMPLATE
from tests.support.waits import wait_for

pytestmark = pytest.mark.usefixtures("metrics_token")
Status = Email.Status


def test_observations_land_in_cumulative_buckets(db, client, redis_client):
    # 0.1 is a bound: Prometheus buckets are "less than or equal".
    for latency, duration in ((0.1, 0.02), (0.3, 0.2), (5000.0, 20.0)):
        counters.record_send(latency_s=latency, duration_s=duration, priority="bulk")
    counters.record_send(latency_s=-1.0, duration_s=0.01, priority="high")  # clocks apart: counted as 0

    samples = scrape(client)

    buckets, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority="bulk")
    assert (count, total) == (3, pytest.approx(5000.4))
    assert dict(buckets)[0.1] == 1 and dict(buckets)[0.25] == 1 and dict(buckets)[0.5] == 2
    assert dict(buckets)[3600.0] == 2 and dict(buckets)[math.inf] == 3
    assert [le for le, _ in buckets] == [*counters.LATENCY_BUCKETS, math.inf]
    high, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority="high")
    assert (count, total, high[0]) == (1, 0, (0.1, 1))
    duration, count, total = histogram(samples, "electnepal_mailer_send_duration_seconds")
    assert (count, total) == (4, pytest.approx(20.23))
    assert dict(duration)[0.025] == 2 and dict(duration)[0.25] == 3 and dict(duration)[15.0] == 3
    # The counters live under the limiter's key prefix, which conftest cleans between tests.
    assert counters.HASH_KEY.startswith("electnepal:mailer:") and limiter.RATE_KEY.startswith("electnepal:mailer:")
    assert redis_client.exists(counters.HASH_KEY)


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
    latency_sum = sum(
        histogram(samples, "electnepal_mailer_send_latency_seconds", priority=p)[2] for p in ("bulk", "high")
    )
    assert latency_sum >= total  # created → accepted contains the send call


def test_a_wait_for_a_send_slot_is_recorded(transactional_db, ses, client, settings):
    settings.MAILER_MAX_SEND_RATE = 1  # one send per ~1.03 s
    settings.MAILER_CLAIM_HORIZON_SECONDS = 2.0  # both in one claim: the second waits for its slot
    interval = limiter.interval()
    transport.connection()  # the SES client of these settings, built: a cold first send would miss its slot
    for i in range(2):
        Email.objects.create(
            template=TEMPLATE,
            to=f"slot{i}@example.com",
            context=CONTEXT,
            next_attempt_at=timezone.now(),
            priority="high",
        )
    Dispatcher().drain(budget=5)
    # Both sent (a late doorbell of an earlier test may have had the suite's worker send one).
    assert Email.objects.filter(status="sent").count() == 2

    samples = scrape(client)

    assert value(samples, "electnepal_mailer_limiter_waits_total") >= 1  # the second slot, at least
    assert value(samples, "electnepal_mailer_limiter_wait_seconds_total") > 0.9 * interval
    assert value(samples, "electnepal_mailer_send_duration_seconds_count") == 2


def test_a_worker_writes_its_observations_at_most_once_per_interval(db, client, settings, redis_client, monkeypatch):
    settings.MAILER_METRICS_FLUSH_SECONDS = 0.3
    counters.flush()  # nothing pending from before
    calls = []
    real_record = counters._record
    # Counts the writes; each still goes to the real Redis.
    monkeypatch.setattr(counters, "_record", lambda fields: (calls.append(fields), real_record(fields)))
    for _ in range(50):
        counters.record_send(latency_s=0.2, duration_s=0.02, priority="bulk")
    counters.record_limiter_wait(0.25)
    assert not redis_client.exists(counters.HASH_KEY)  # held in the process for now

    wait_for(lambda: calls, timeout=5, message="the timed write")

    assert len(calls) == 1  # 51 observations, one Redis pipeline
    samples = scrape(client)
    _, count, total = histogram(samples, "electnepal_mailer_send_latency_seconds", priority="bulk")
    assert (count, total) == (50, pytest.approx(10.0))
    assert value(samples, "electnepal_mailer_limiter_waits_total") == 1
    assert value(samples, "electnepal_mailer_limiter_wait_seconds_total") == pytest.approx(0.25)


def test_pending_observations_are_written_by_flush(db, client, settings):
    settings.MAILER_METRICS_FLUSH_SECONDS = 60
    counters.record_send(latency_s=0.2, duration_s=0.02, priority="high")
    assert value(scrape(client), "electnepal_mailer_send_latency_seconds_count", priority="high") == 0

    counters.flush()  # what the worker process does at exit

    assert value(scrape(client), "electnepal_mailer_send_latency_seconds_count", priority="high") == 1
