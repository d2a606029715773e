"""Alerts (mailer.ops.alerts): what trips them, the ERROR lines, the hourly ADMINS email through the outbox."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from mailer.models import Email
from mailer.ops import alerts
from tests.support.processes import free_port
from tests.support.waits import wait_for

Status = Email.Status
ADMINS = [("Ops", "ops@electnepal.test"), ("Ram", "ram@electnepal.test")]


def make_email(status, *, created_ago=timedelta(0), delivery_status="", template="accounts/email/welcome", **extra):
    now = timezone.now()
    email = Email.objects.create(
        template=template,
        to="voter@example.com",
        status=status,
        next_attempt_at=extra.pop("next_attempt_at", now),
        delivery_status=delivery_status,
        sent_at=now if status == Status.SENT else None,
        **extra,
    )
    Email.objects.filter(pk=email.pk).update(created_at=now - created_ago)  # auto_now_add ignores the argument
    return email


def sent(n, *, bounced=0, complained=0):
    for i in range(n):
        status = "bounced" if i < bounced else "complained" if i < bounced + complained else "delivered"
        make_email(Status.SENT, delivery_status=status)


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def errors():
    handler = Lines()
    logger = logging.getLogger("mailer")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


@pytest.fixture
def admins(settings):
    settings.ADMINS = ADMINS
    settings.MAILER_ALERT_MIN_SENT = 20
    return settings


def alert_rows():
    return Email.objects.filter(template=alerts.ALERT_TEMPLATE)


def test_all_well_no_alert(db, admins, errors):
    sent(40)
    make_email(Status.QUEUED, created_ago=timedelta(minutes=9))
    assert alerts.alerts_check() == {"problems": [], "cleared": [], "notified": 0}
    assert errors == [] and not alert_rows().exists()


def test_a_backlog_older_than_ten_minutes_logs_and_notifies_each_admin_once(db, admins, errors):
    old = make_email(Status.QUEUED, created_ago=timedelta(minutes=11))
    assert alerts.alerts_check() == {"problems": ["backlog"], "cleared": [], "notified": 2}
    (line,) = errors
    assert f"oldest queued email (#{old.pk}) has waited 11 min" in line
    assert sorted(alert_rows().values_list("to", flat=True)) == ["ops@electnepal.test", "ram@electnepal.test"]
    assert set(alert_rows().values_list("priority", flat=True)) == {Email.Priority.HIGH}

    # Within the hour: logged again, no second email.
    assert alerts.alerts_check() == {"problems": ["backlog"], "cleared": [], "notified": 0}
    assert len(errors) == 2 and alert_rows().count() == 2


def test_the_interval_passes_and_admins_hear_again(db, admins, errors, redis_client):
    make_email(Status.QUEUED, created_ago=timedelta(minutes=30))
    assert alerts.alerts_check()["notified"] == 2
    redis_client.delete(alerts.THROTTLE_KEY)  # what the key's expiry does after an hour
    assert alerts.alerts_check()["notified"] == 2
    assert 0 < redis_client.ttl(alerts.THROTTLE_KEY) <= 3600


def test_bounce_rate_at_half_the_review_threshold(db, admins, errors):
    sent(40, bounced=1)  # 2.5 %: exactly half of 5 %
    assert alerts.alerts_check()["problems"] == ["bounce_rate"]
    assert "bounce rate 2.50% over the last 24 h (1 of 40 sent)" in errors[0]


def test_bounce_rate_below_half_is_quiet(db, admins, errors):
    sent(41, bounced=1)  # 2.44 %
    assert alerts.alerts_check()["problems"] == []


def test_complaint_rate(db, admins, errors):
    sent(20, complained=1)
    assert alerts.alerts_check()["problems"] == ["complaint_rate"]
    assert "complaint rate 5.00%" in errors[0]


def test_too_few_emails_for_a_rate(db, admins, errors):
    sent(19, bounced=5)
    assert alerts.alerts_check()["problems"] == []


def test_alerts_do_not_feed_themselves(db, admins, errors):
    # An alert email stuck in the queue is no backlog of its own, and alerts that
    # bounce count in no rate.
    make_email(Status.QUEUED, created_ago=timedelta(hours=2), template=alerts.ALERT_TEMPLATE)
    for _ in range(25):
        make_email(Status.SENT, delivery_status="bounced", template=alerts.ALERT_TEMPLATE)
    assert alerts.alerts_check() == {"problems": [], "cleared": [], "notified": 0}


def test_no_admins_only_logs(db, settings, errors):
    settings.ADMINS = []
    make_email(Status.QUEUED, created_ago=timedelta(hours=1))
    assert alerts.alerts_check() == {"problems": ["backlog"], "cleared": [], "notified": 0}
    assert len(errors) == 1 and not alert_rows().exists()


def test_redis_down_still_logs(db, admins, errors):
    admins.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    make_email(Status.QUEUED, created_ago=timedelta(hours=1))
    assert alerts.alerts_check() == {"problems": ["backlog"], "cleared": [], "notified": 0}
    assert any("Redis does not answer" in line for line in errors)
    assert not alert_rows().exists()


def test_the_alert_reaches_the_admins_through_the_worker(e2e, ses, admins, errors):
    # Not due for an hour: the worker leaves it alone, and it is the backlog.
    make_email(Status.QUEUED, created_ago=timedelta(minutes=25), next_attempt_at=timezone.now() + timedelta(hours=1))
    assert alerts.alerts_check()["notified"] == 2
    wait_for(lambda: alert_rows().filter(status=Status.SENT).count() == 2, message="the alerts to be sent")
    messages = ses.sent()
    assert sorted(m["To"] for m in messages) == ["ops@electnepal.test", "ram@electnepal.test"]
    assert messages[0]["Subject"] == "[ElectNepal] Email alert: 1 problem on https://electnepal.test"
    body = messages[0].get_body(("plain",)).get_content()
    assert "has waited 25 min" in body and "manage.py mailcheck" in body


def test_a_failing_provider_fires_then_clears(db, settings, errors, caplog):
    """SES down: every worker paused; the alert lasts until a send goes through again, then says so."""
    from mailer.sending import breaker

    settings.ADMINS = []
    settings.MAILER_PAUSE_AFTER_ERRORS = 2
    for _ in range(2):
        breaker.provider_failed("ServiceUnavailable: Service unavailable")
    fired = alerts.alerts_check()
    assert fired == {"problems": ["provider"], "cleared": [], "notified": 0}
    assert any("sending is paused" in line and "ServiceUnavailable" in line for line in errors)

    wait_for(lambda: not breaker.paused()[0])  # the pause ends (MAILER_PAUSE_BASE_SECONDS in tests)
    breaker.provider_ok()  # then the probe went through
    with caplog.at_level(logging.INFO, logger="mailer"):
        assert alerts.alerts_check() == {"problems": [], "cleared": ["provider"], "notified": 0}
    assert "mailer alert cleared: provider" in caplog.text
    assert alerts.alerts_check()["cleared"] == []  # said once
