"""Link tokens stay out of log lines and exception reports (electnepal.redaction).

The 500 and 404 log lines, runserver's request lines, the DEBUG error page and the
error email to ADMINS show ``********`` where a token was, in every spelling.
"""

import io
import logging
import uuid
from contextlib import contextmanager

import pytest
from django.test import Client

from accounts import services
from accounts.models import EmailVerification
from accounts.tokens import token_hash
from electnepal import errors
from electnepal.redaction import redact
from mailer.models import Email
from mailer.outbox.message import build_message
from tests.support.accounts import reset_token

NEW_PASSWORD = "pokhara-lakeside-2083"


def spellings(token: uuid.UUID) -> list[str]:
    return [str(token), token.hex, str(token).upper(), token.hex.upper()]


@pytest.fixture
def failing_reset(user, monkeypatch):
    """A reset link whose page fails with a 500 (the database went away, say)."""
    token = reset_token(user)

    def broken(*, token):
        raise RuntimeError(f"database unavailable while looking up {token}")

    monkeypatch.setattr(services, "password_reset_user", broken)
    return token


@contextmanager
def captured(logger_name: str):
    """What the project's configured handlers of ``logger_name`` write."""
    handlers = logging.getLogger(logger_name).handlers
    assert handlers, logger_name
    streams = [
        (handler, handler.setStream(io.StringIO()))
        for handler in handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    buffer = []
    try:
        yield buffer
    finally:
        for handler, old in streams:
            buffer.append(handler.stream.getvalue())
            handler.setStream(old)


def test_the_500_log_line_and_traceback_hold_no_token(failing_reset):
    with captured("django") as output:
        response = Client(raise_request_exception=False).post(
            f"/auth/reset-password/{failing_reset}/", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        )
    assert response.status_code == 500
    text = "".join(output)
    assert "Internal Server Error: /auth/reset-password/********/" in text
    assert "RuntimeError: database unavailable while looking up ********" in text  # the traceback, too
    for spelling in spellings(failing_reset):
        assert spelling not in text


def test_the_404_log_line_holds_no_token(db):
    token = uuid.uuid4()
    with captured("django") as output:
        assert Client().get(f"/auth/verify-email/{token.hex}/").status_code == 404  # not the dashed form
    text = "".join(output)
    assert "Not Found: /auth/verify-email/********/" in text and token.hex not in text


def test_runserver_request_lines_hold_no_token():
    token = uuid.uuid4()
    with captured("django.server") as output:
        logging.getLogger("django.server").info(
            '"%s" %s %s', f"GET /auth/reset-password/{token}/ HTTP/1.1", "200", "1234"
        )
    text = "".join(output)
    assert "GET /auth/reset-password/********/ HTTP/1.1" in text and str(token) not in text


def test_the_debug_error_page_holds_no_token(failing_reset, settings):
    settings.DEBUG = True
    response = Client(raise_request_exception=False).get(f"/auth/reset-password/{failing_reset}/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "/auth/reset-password/********/" in page
    for spelling in spellings(failing_reset):
        assert spelling not in page


def test_the_error_email_to_admins_holds_no_token_and_no_password(failing_reset, settings):
    """The project's own logging reports a 500 to ADMINS, through the outbox (no handler added here)."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    response = Client(raise_request_exception=False).post(
        f"/auth/reset-password/{failing_reset}/", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert response.status_code == 500
    (row,) = Email.objects.all()
    assert (row.template, row.to, row.priority) == (errors.TEMPLATE, "ops@example.com", Email.Priority.HIGH)
    report = build_message(row)
    html = report.alternatives[0][0]
    whole = report.subject + report.body + html
    assert report.subject.startswith("[ElectNepal] Server error: Internal Server Error: /auth/reset-password/********/")
    assert "RuntimeError" in report.body and "password_confirm" in report.body
    for spelling in spellings(failing_reset):
        assert spelling not in whole and spelling not in str(row.context)
    assert NEW_PASSWORD not in whole  # sensitive_post_parameters


def test_a_failing_verify_page_report_holds_no_token(user, monkeypatch, settings):
    settings.DEBUG = True
    token = uuid.uuid4()
    EmailVerification.objects.create(user=user, token_hash=token_hash(token))

    def broken(*, token):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "email_verify", broken)
    response = Client(raise_request_exception=False).post(f"/auth/verify-email/{token}/")
    assert response.status_code == 500
    for spelling in spellings(token):
        assert spelling not in response.content.decode()


def test_redact_blanks_token_paths_only():
    token = uuid.uuid4()
    assert redact(f"GET /auth/reset-password/{token}/?x=1 and /auth/verify-email/{token.hex}/") == (
        "GET /auth/reset-password/********/?x=1 and /auth/verify-email/********/"
    )
    assert redact("GET /auth/login/ 200") == "GET /auth/login/ 200"
