"""What SES and SMTP errors mean (mailer.sending.errors): transient (retry later) or permanent (fail now)."""

import smtplib

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from mailer.outbox.delivery import backoff_delay
from mailer.sending.errors import DAILY_QUOTA_DELAY, NothingSent, classify


def ses_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendEmail"
    )


def _id(exc) -> str:
    if isinstance(exc, ClientError):
        return exc.response["Error"]["Code"]
    return f"{type(exc).__name__}{getattr(exc, 'smtp_code', '')}"


@pytest.mark.parametrize(
    "exc",
    [
        ses_error("Throttling", "Maximum sending rate exceeded."),
        ses_error("TooManyRequestsException", "Too many requests", 429),
        ses_error("ServiceUnavailable", "", 503),
        ses_error("InternalFailure", "", 500),
        ses_error("SomethingNew", "", 502),
        EndpointConnectionError(endpoint_url="https://email.ap-south-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://email.ap-south-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://email.ap-south-1.amazonaws.com"),
        smtplib.SMTPServerDisconnected("gone"),
        smtplib.SMTPResponseException(421, b"Service not available"),
        smtplib.SMTPResponseException(451, b"Local error"),
        smtplib.SMTPResponseException(454, b"TLS not available"),
        smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"Mailbox busy")}),
        TimeoutError("timed out"),
        ConnectionRefusedError(111, "refused"),
        NothingSent("nothing"),
    ],
    ids=_id,
)
def test_transient(exc):
    assert classify(exc).transient


@pytest.mark.parametrize(
    "exc",
    [
        ses_error("MessageRejected", "Email address is not verified."),
        ses_error("MailFromDomainNotVerifiedException"),
        ses_error("ConfigurationSetDoesNotExist"),
        ses_error("InvalidParameterValue", "Missing final '@domain'"),
        ses_error("BadRequestException", "Invalid address"),
        smtplib.SMTPResponseException(535, b"Authentication failed"),
        smtplib.SMTPResponseException(552, b"Message too large"),
        smtplib.SMTPResponseException(554, b"Transaction failed"),
        smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"No such user")}),
        ValueError("bad header"),
    ],
    ids=_id,
)
def test_permanent(exc):
    assert not classify(exc).transient


def test_daily_quota_waits_minutes():
    outcome = classify(ses_error("Throttling", "Daily message quota exceeded."))
    assert outcome.transient and outcome.min_delay == DAILY_QUOTA_DELAY
    assert backoff_delay(1, min_delay=outcome.min_delay) >= DAILY_QUOTA_DELAY


@pytest.mark.parametrize(
    "code",
    [
        "AccountSendingPausedException",
        "SendingPausedException",
        "ConfigurationSetSendingPausedException",
        "AccountSuspendedException",
    ],
)
def test_a_paused_account_halts_sending_instead_of_failing_the_email(code):
    outcome = classify(ses_error(code, "Sending is paused for this account."))
    assert outcome.transient and outcome.provider and outcome.halt and not outcome.throttled


@pytest.mark.parametrize(
    "exc",
    [ses_error("Throttling", "Maximum sending rate exceeded."), ses_error("TooManyRequestsException", "")],
    ids=_id,
)
def test_rate_throttling_slows_down_rather_than_pausing(exc):
    outcome = classify(exc)
    assert outcome.transient and outcome.throttled and not outcome.halt


def test_the_daily_quota_is_not_a_rate_problem():
    assert not classify(ses_error("Throttling", "Daily message quota exceeded.")).throttled
