"""Server errors reach ADMINS (electnepal.errors, wired in settings.LOGGING): one email per distinct error.

Every test goes through the project's configured ``django`` logger: a real 500
in a view, the outbox row it writes, the Redis key that throttles it.
"""

import logging

import pytest
import redis
from django.core.cache import cache
from django.test import Client

from accounts import services
from electnepal import errors
from mailer import api as mail
from mailer.models import Email
from tests.support.accounts import reset_token

ADMINS = [("Ops", "ops@example.com"), ("Ram", "ram@example.org")]


@pytest.fixture
def admins(settings):
    settings.ADMINS = ADMINS
    return settings


def broken_reset(monkeypatch, exception: Exception | None = None):
    def broken(*, token):
        raise exception or RuntimeError("database unavailable")

    monkeypatch.setattr(services, "password_reset_user", broken)


def get_500(token) -> None:
    response = Client(raise_request_exception=False).get(f"/auth/reset-password/{token}/")
    assert response.status_code == 500


def reports() -> list[Email]:
    return list(Email.objects.filter(template=errors.TEMPLATE).order_by("to"))


def test_a_500_queues_one_report_per_admin_and_a_repeat_none(user, admins, monkeypatch):
    broken_reset(monkeypatch)
    get_500(reset_token(user))
    first = reports()
    assert [row.to for row in first] == ["ops@example.com", "ram@example.org"]
    assert all(row.status == Email.Status.QUEUED for row in first)
    assert first[0].context["summary"] == "Internal Server Error: /auth/reset-password/********/"

    get_500(reset_token(user))  # the same error, another link
    assert len(reports()) == 2


def test_a_different_error_is_reported_on_its_own(user, admins, monkeypatch):
    broken_reset(monkeypatch)
    get_500(reset_token(user))
    broken_reset(monkeypatch, ValueError("another bug"))  # another exception type: another error
    get_500(reset_token(user))
    assert sorted(row.context["report"].count("ValueError") > 0 for row in reports()) == [False, False, True, True]


def test_the_same_error_is_reported_again_after_the_interval(user, admins, monkeypatch):
    broken_reset(monkeypatch)
    get_500(reset_token(user))
    cache.clear()  # the interval's key expired
    get_500(reset_token(user))
    assert len(reports()) == 4


def test_with_redis_down_each_process_still_reports_once(user, admins, monkeypatch):
    def down(*args, **kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(cache, "add", down)
    monkeypatch.setattr(errors, "_local_seen", {})
    broken_reset(monkeypatch)
    get_500(reset_token(user))
    get_500(reset_token(user))
    assert len(reports()) == 2


def test_an_error_while_reporting_is_not_reported(user, admins, monkeypatch, capsys):
    """The report fails and logs an error on the django logger itself: no loop, the page still answers 500."""
    calls = []

    def failing_enqueue(**kwargs):
        calls.append(kwargs["template"])
        logging.getLogger("django.db").error("database gone while reporting", exc_info=RuntimeError("gone"))
        raise RuntimeError("the outbox cannot be written")

    monkeypatch.setattr(mail, "enqueue", failing_enqueue)
    broken_reset(monkeypatch)
    get_500(reset_token(user))
    assert calls == [errors.TEMPLATE]  # once: the nested error was not reported
    assert "the outbox cannot be written" in capsys.readouterr().err  # logging's handleError, on stderr
    assert reports() == []


def test_client_errors_and_debug_mode_send_nothing(user, admins, monkeypatch):
    assert Client().get("/no-such-page/").status_code == 404  # a WARNING, not an error
    admins.DEBUG = True  # the error page shows it; no email
    broken_reset(monkeypatch)
    response = Client(raise_request_exception=False).get(f"/auth/reset-password/{reset_token(user)}/")
    assert response.status_code == 500
    assert reports() == []


def test_without_admins_nothing_is_queued(user, settings, monkeypatch):
    settings.ADMINS = []
    broken_reset(monkeypatch)
    get_500(reset_token(user))
    assert reports() == []


def test_the_report_is_delivered_by_a_worker(e2e, ses, admins, monkeypatch):
    """End to end: the 500's report goes out through a worker and SES like any email."""
    from accounts.models import User
    from tests.support.accounts import PASSWORD
    from tests.support.outbox import all_final

    user = User.objects.create_user("sita", "sita@example.com", PASSWORD, is_active=True)
    broken_reset(monkeypatch)
    get_500(reset_token(user))
    all_final()
    assert {row.status for row in reports()} == {Email.Status.SENT}
    subjects = {message["Subject"] for message in ses.sent()}
    assert subjects == {"[ElectNepal] Server error: Internal Server Error: /auth/reset-password/********/"}
