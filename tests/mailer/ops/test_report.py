"""``manage.py mailstats`` (mailer.ops.report): counts, rates, backlog and quota, checked exactly."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mailer.models import Email
from mailer.ops import report
from mailer.sending import limiter
from tests.support.database import database_url

HOUR = timedelta(hours=1)
Status = Email.Status


def make_email(template, status, *, created_ago, sent_ago=None, delivery_status="") -> Email:
    now = timezone.now()
    email = Email.objects.create(
        template=template,
        to="someone@example.com",
        status=status,
        next_attempt_at=now,
        delivery_status=delivery_status,
        sent_at=now - sent_ago if sent_ago is not None else None,
    )
    Email.objects.filter(pk=email.pk).update(created_at=now - created_ago)  # auto_now_add ignores the argument
    return email


def mailstats(*args) -> dict:
    out = io.StringIO()
    call_command("mailstats", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def outbox(db):
    """Known rows: 7 created in the last 24 h, 6 sent in it (1 bounced, 1 complained)."""
    verification, welcome = "accounts/email/verification", "accounts/email/welcome"
    reset = "accounts/email/password_reset"
    make_email(verification, Status.SENT, created_ago=HOUR, sent_ago=HOUR, delivery_status="delivered")
    make_email(verification, Status.SENT, created_ago=3 * HOUR, sent_ago=3 * HOUR, delivery_status="bounced")
    make_email(verification, Status.SENT, created_ago=5 * HOUR, sent_ago=5 * HOUR)
    make_email(verification, Status.FAILED, created_ago=6 * HOUR)
    make_email(welcome, Status.SENT, created_ago=10 * HOUR, sent_ago=10 * HOUR, delivery_status="complained")
    make_email(welcome, Status.SENT, created_ago=20 * HOUR, sent_ago=20 * HOUR, delivery_status="delivered")
    make_email(welcome, Status.QUEUED, created_ago=HOUR / 2)
    # Created before the window, sent (after retries) inside it: a send, not a creation.
    make_email(reset, Status.SENT, created_ago=26 * HOUR, sent_ago=HOUR)
    # Entirely before the window: counted nowhere, except as the oldest queued email.
    make_email(reset, Status.SENT, created_ago=30 * HOUR, sent_ago=30 * HOUR, delivery_status="bounced")
    oldest = make_email(reset, Status.QUEUED, created_ago=40 * HOUR)
    return {"oldest_queued": oldest}


def test_json_counts_rates_backlog_and_quota(outbox, settings, redis_client):
    settings.MAILER_MAX_24H_SEND = 200
    seconds, micros = redis_client.time()
    redis_now = seconds + micros / 1e6
    window = settings.MAILER_QUOTA_WINDOW_SECONDS
    redis_client.zadd(
        limiter.QUOTA_KEY,
        {
            "a:1": redis_now - 10,
            "b:1": redis_now - window + 60,
            "c:1": redis_now + 0.5,  # a slot reserved ahead (the limiter spaces sends)
            "old:1": redis_now - window - 60,  # out of the window
        },
    )

    figures = mailstats()

    assert figures["window"]["since"] == "24h" and figures["window"]["seconds"] == 86400
    assert figures["total"] == 7
    assert figures["by_status"] == {"queued": 1, "sending": 0, "sent": 5, "failed": 1, "expired": 0, "suppressed": 0}
    assert figures["by_kind"] == {
        "verification": {"total": 4, "sent": 3, "failed": 1},
        "welcome": {"total": 3, "sent": 2, "queued": 1},
    }
    assert figures["sent"] == 6
    assert figures["bounce"] == {"count": 1, "rate": 1 / 6, "threshold": 0.05, "verdict": "OVER"}
    assert figures["complaint"] == {"count": 1, "rate": 1 / 6, "threshold": 0.001, "verdict": "OVER"}
    assert figures["oldest_queued"]["id"] == outbox["oldest_queued"].pk
    assert 40 * 3600 <= figures["oldest_queued"]["age_seconds"] < 40 * 3600 + 60
    assert figures["quota"] == {"used": 3, "limit": 200, "fraction": 0.015, "window_seconds": window}


def test_since_narrows_the_window(outbox):
    figures = mailstats("--since", "2h")
    assert figures["window"]["seconds"] == 7200
    assert figures["total"] == 2
    assert figures["by_status"]["sent"] == 1 and figures["by_status"]["queued"] == 1
    assert figures["by_kind"] == {"verification": {"total": 1, "sent": 1}, "welcome": {"total": 1, "queued": 1}}
    assert figures["sent"] == 2  # the verification sent 1 h ago, the reset created 26 h ago sent 1 h ago
    assert figures["bounce"]["count"] == 0 and figures["bounce"]["verdict"] == "OK"

    week = mailstats("--since", "7d")
    assert week["total"] == 10 and week["sent"] == 7 and week["bounce"]["count"] == 2


def test_nothing_sent_gives_no_rate_and_an_empty_quota(db, redis_client):
    figures = mailstats()
    assert figures["total"] == 0 and figures["sent"] == 0
    assert figures["bounce"] == {"count": 0, "rate": None, "threshold": 0.05, "verdict": "n/a"}
    assert figures["oldest_queued"] is None
    assert figures["quota"]["used"] == 0


@pytest.mark.parametrize("value", ["abc", "5x", "0h", "-1h", "", "h", "2 hours", "1.5h", "99999d"])
def test_a_bad_since_is_a_command_error(db, value):
    with pytest.raises(CommandError, match="--since"):
        call_command("mailstats", "--since", value, stdout=io.StringIO())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("90m", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(hours=36)),
        (" 30S ", timedelta(seconds=30)),
    ],
)
def test_parse_duration(text, expected):
    assert report.parse_duration(text) == expected


@pytest.mark.parametrize(
    ("rate", "threshold", "verdict"),
    [
        (None, 0.05, "n/a"),
        (0.0, 0.05, "OK"),
        (0.0249, 0.05, "OK"),
        (0.025, 0.05, "WARNING"),
        (0.0499, 0.05, "WARNING"),
        (0.05, 0.05, "OVER"),
        (0.0004, 0.001, "OK"),
        (0.0005, 0.001, "WARNING"),
        (0.001, 0.001, "OVER"),
    ],
)
def test_verdicts(rate, threshold, verdict):
    assert report.verdict(rate, threshold) == verdict


def test_text_report(outbox, settings):
    settings.MAILER_MAX_24H_SEND = 50000
    out = io.StringIO()
    call_command("mailstats", stdout=out)
    text = out.getvalue()
    print("\n" + text)
    assert "Emails created in the last 24h" in text and "): 7\n" in text
    assert "by status: queued 1, sending 0, sent 5, failed 1, expired 0, suppressed 0" in text
    assert "verification        4  (sent 3, failed 1)" in text
    assert "Sent in the window: 6" in text
    assert "bounce rate      16.67 % (1 of 6)         SES review at 5 %     OVER" in text
    assert "complaint rate   16.67 % (1 of 6)         SES review at 0.1 %   OVER" in text
    assert f"Oldest queued email: 1 d 16 h (#{outbox['oldest_queued'].pk}," in text
    assert "Quota (24 h): 0 of 50,000 sends reserved (0 %)" in text


def test_quota_when_redis_does_not_answer(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    figures = mailstats()
    assert figures["quota"]["used"] is None and figures["quota"]["error"]
    out = io.StringIO()
    call_command("mailstats", stdout=out)
    assert "unavailable, Redis did not answer" in out.getvalue()


# --- The exit status, for cron and monitoring ---------------------------------


def sent_rows(n: int, *, bounced: int = 0, complained: int = 0) -> None:
    statuses = ["bounced"] * bounced + ["complained"] * complained
    statuses += ["delivered"] * (n - len(statuses))
    for status in statuses:
        make_email("accounts/email/welcome", Status.SENT, created_ago=HOUR, sent_ago=HOUR, delivery_status=status)


@pytest.mark.parametrize(
    ("sent", "bounced", "complained", "over"),
    [
        (20, 1, 0, "bounce rate 5 % (1 of 20 sent)"),  # at SES's threshold
        (1000, 0, 1, "complaint rate 0.1 % (1 of 1000 sent)"),
        (40, 1, 0, None),  # 2.5 %: a WARNING in the report, not an exit status
        (999, 0, 0, None),
        (19, 5, 0, None),  # fewer than MAILER_ALERT_MIN_SENT (20) sent: not judged
    ],
)
def test_mailstats_fails_when_a_rate_is_over_ses_review_threshold(db, settings, sent, bounced, complained, over):
    settings.MAILER_ALERT_MIN_SENT = 20
    sent_rows(sent, bounced=bounced, complained=complained)
    out = io.StringIO()
    if over is None:
        call_command("mailstats", stdout=out)
        return
    with pytest.raises(CommandError) as raised:
        call_command("mailstats", stdout=out)
    assert raised.value.returncode == 2
    assert str(raised.value).startswith(over) and "is at or over SES's review threshold" in str(raised.value)
    assert "Sent in the window" in out.getvalue()  # the report is printed all the same


def test_min_sent_can_be_given(db, settings):
    settings.MAILER_ALERT_MIN_SENT = 20
    sent_rows(4, bounced=1)
    call_command("mailstats", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("mailstats", "--min-sent", "1", stdout=io.StringIO())


def test_the_process_exit_status_is_2_over_the_threshold(transactional_db, django_db_setup):
    """What cron sees: manage.py mailstats as a process, against the test database."""
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings
    from django.db import connection

    sent_rows(20, bounced=2)
    env = {**os.environ, "DATABASE_URL": database_url(connection), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    command = [sys.executable, "manage.py", "mailstats"]
    result = subprocess.run(command, cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "bounce rate 10 % (2 of 20 sent) is at or over SES's review threshold of 5 %" in result.stderr
    Email.objects.all().delete()
    sent_rows(20)
    result = subprocess.run(command, cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
