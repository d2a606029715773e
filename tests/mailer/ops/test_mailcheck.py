"""manage.py mailcheck against real endpoints: moto's SES over HTTP, aiosmtpd, Redis, a worker."""

import io

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core.management import CommandError, call_command

from mailer.models import Email
from tests.support.processes import RedisServer, broker, free_port

ACCOUNT_PATH = "/v2/email/account"


def mailcheck(*args) -> tuple[str, bool]:
    """Run the command; return its output and whether it passed."""
    out = io.StringIO()
    try:
        call_command("mailcheck", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue() + f"\nCommandError: {exc}", False
    return out.getvalue(), True


def line(output: str, label: str) -> list[str]:
    """The finding lines of ``label`` (not their hints)."""
    return [text for text in output.splitlines() if text.split()[1:2] == [label] and text[:4] in ("ok  ", "FAIL")]


def account(*, production: bool, rate: float = 14, day: float = 50000, used: float = 10) -> dict:
    return {
        "ProductionAccessEnabled": production,
        "SendingEnabled": True,
        "EnforcementStatus": "HEALTHY",
        "SendQuota": {"MaxSendRate": rate, "Max24HourSend": day, "SentLast24Hours": used},
    }


@pytest.fixture
def ses_limits(settings):
    settings.MAILER_MAX_SEND_RATE = 14
    settings.MAILER_MAX_24H_SEND = 50000


def test_console_backend_has_nothing_to_check(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    output, passed = mailcheck()
    assert passed
    assert "does not deliver to a mail server" in output


def test_ses_in_production_with_a_verified_sender(db, ses, ses_limits):
    ses.faults.answer("GET", ACCOUNT_PATH, 200, account(production=True, used=1234))
    output, passed = mailcheck()
    assert passed, output
    assert "accepted by SES" in line(output, "credentials")[0]
    assert "production" in line(output, "account")[0]
    assert "max 14/s, 50,000 per 24 h, 1,234 used" in output
    assert "no-reply@electnepal.test is a verified identity" in output


def test_an_endpoint_without_get_account_falls_back_to_get_send_quota(db, ses, settings):
    settings.MAILER_MAX_SEND_RATE = 1
    settings.MAILER_MAX_24H_SEND = 200
    output, passed = mailcheck()  # moto implements GetSendQuota but not GetAccount
    assert passed, output
    assert "sandbox status unknown" in output
    assert "per 24 h" in line(output, "quota")[0]


def test_refused_credentials_are_named(db, ses, ses_limits):
    ses.faults.answer(
        "GET",
        ACCOUNT_PATH,
        403,
        {"message": "The security token included in the request is invalid."},
        error_type="UnrecognizedClientException",
    )
    output, passed = mailcheck()
    assert not passed
    (credentials,) = line(output, "credentials")
    assert "FAIL" in credentials and "SES refused the credentials: UnrecognizedClientException" in credentials
    assert "AWS_SECRET_ACCESS_KEY" in output  # the hint


def test_an_unverified_sender_is_named(db, ses, ses_limits, settings):
    ses.faults.answer("GET", ACCOUNT_PATH, 200, account(production=True))
    settings.DEFAULT_FROM_EMAIL = "ElectNepal <news@unverified.example>"
    output, passed = mailcheck()
    assert not passed
    (sender,) = line(output, "sender")
    assert "FAIL" in sender and "news@unverified.example is not verified" in sender
    assert "create-email-identity" in output


def test_a_rate_above_the_account_quota_is_a_problem(db, ses, settings):
    ses.faults.answer("GET", ACCOUNT_PATH, 200, account(production=True, rate=14))
    settings.MAILER_MAX_SEND_RATE = 50
    output, passed = mailcheck()
    assert not passed
    assert "MAILER_MAX_SEND_RATE=50 is above SES's 14/s" in output


def test_sandbox_refuses_an_unverified_recipient_before_sending(db, ses, ses_limits):
    ses.faults.answer("GET", ACCOUNT_PATH, 200, account(production=False))
    output, passed = mailcheck("--to", "voter@example.com")
    assert not passed
    assert "sandbox" in line(output, "account")[0]
    (recipient,) = line(output, "recipient")
    assert "voter@example.com is not verified and SES is in the sandbox" in recipient
    assert "test email not sent" in output
    assert not Email.objects.exists()


def test_test_email_goes_through_the_pipeline(e2e, ses, ses_limits):
    ses.faults.answer("GET", ACCOUNT_PATH, 200, account(production=True))
    output, passed = mailcheck("--to", "ops@example.com", "--timeout", "30")
    assert passed, output
    assert "consuming mail:" in line(output, "workers")[0]
    email = Email.objects.get(to="ops@example.com")
    assert email.status == Email.Status.SENT
    assert f"#{email.pk} sent to ops@example.com; SES message id {email.message_id}" in output
    (message,) = ses.sent()
    assert message["Subject"] == "[ElectNepal] Test email from ElectNepal"
    assert "mailcheck" in message.get_body(("plain",)).get_content()


def test_broker_down_is_named_and_nothing_is_queued(db, ses, ses_limits):
    from worker import app

    ses.faults.answer("GET", ACCOUNT_PATH, 200, account(production=True))
    with broker(app, f"redis://127.0.0.1:{free_port()}/0"):
        output, passed = mailcheck("--to", "ops@example.com")
    assert not passed
    (line_,) = line(output, "broker")
    assert "FAIL" in line_ and "does not answer" in line_
    assert not Email.objects.exists()


def test_no_worker_is_named(db, ses, ses_limits):
    from worker import app

    ses.faults.answer("GET", ACCOUNT_PATH, 200, account(production=True))
    empty = RedisServer().start()  # a broker no worker listens to
    try:
        with broker(app, empty.url):
            output, passed = mailcheck("--to", "ops@example.com")
    finally:
        empty.cleanup()
    assert not passed
    assert "ok" in line(output, "broker")[0]
    (workers,) = line(output, "workers")
    assert "FAIL" in workers and "no worker answered" in workers
    assert "celery -A worker worker" in output
    assert not Email.objects.exists()


def test_a_bad_address_is_a_command_error(db):
    output, passed = mailcheck("--to", "not-an-address")
    assert not passed and "is not an email address" in output


# --- SMTP -----------------------------------------------------------------------


class Authenticator:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        # handled=False: aiosmtpd answers a failure with 535 itself (its default is silence).
        return AuthResult(success=auth_data.login == b"mailer" and auth_data.password == b"right", handled=False)


class Nothing:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


@pytest.fixture
def smtp_with_login(settings):
    port = free_port()
    controller = Controller(
        Nothing(),
        hostname="127.0.0.1",
        port=port,
        authenticator=Authenticator(),
        auth_require_tls=False,
    )
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    yield settings
    controller.stop()


def test_smtp_connects_and_logs_in(db, smtp_with_login):
    smtp_with_login.EMAIL_HOST_USER, smtp_with_login.EMAIL_HOST_PASSWORD = "mailer", "right"
    output, passed = mailcheck()
    assert passed, output
    assert "connected to 127.0.0.1" in output
    assert "logged in as mailer" in output


def test_smtp_wrong_password_is_named(db, smtp_with_login):
    smtp_with_login.EMAIL_HOST_USER, smtp_with_login.EMAIL_HOST_PASSWORD = "mailer", "wrong"
    output, passed = mailcheck()
    assert not passed, output
    (login,) = line(output, "login")
    assert "refused the login of mailer: 535" in login


def test_smtp_without_starttls_when_tls_is_required(db, smtp_with_login):
    smtp_with_login.EMAIL_USE_TLS = True
    output, passed = mailcheck()
    assert not passed
    assert "does not offer STARTTLS" in output


def test_smtp_nothing_listening(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    output, passed = mailcheck()
    assert not passed
    assert "could not connect to 127.0.0.1" in line(output, "connection")[0]
