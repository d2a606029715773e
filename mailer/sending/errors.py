"""What an error raised while sending means: worth another attempt later, or not.

``classify`` turns whatever the email backend raised (django-ses's botocore
``ClientError``, smtplib's exceptions, network errors, the limiter's Redis) into an
Outcome: transient errors go back to the outbox with a backoff, permanent ones fail
the email at once. ``aws_error`` is the one place an AWS error's code and message are
read from a ``ClientError``.
"""

import smtplib
import socket
from dataclasses import dataclass

import redis
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)


class NothingSent(Exception):
    """The backend returned without error but reported zero messages sent."""


@dataclass(frozen=True)
class Outcome:
    """What a send error means: ``transient`` (try again later) or not, SES's or SMTP's code and words."""

    transient: bool
    code: str
    detail: str
    # Wait at least this long before the next attempt (e.g. a daily quota).
    min_delay: float = 0.0
    # The provider's trouble rather than this email's (throttling, 5xx, the network):
    # every send would fail alike, so the workers pause (sending.breaker) and the
    # attempt does not count towards the email's MAILER_MAX_ATTEMPTS.
    provider: bool = False
    # SES's "slow down": the shared rate is cut (sending.limiter.throttled) instead of a pause.
    throttled: bool = False
    # SES stopped the account's sending (a review, complaints): no email can go until an
    # operator acts, so every worker pauses at once and the emails wait; ops are alerted.
    halt: bool = False


# SES error codes (v1 Query API and v2 REST API) worth another attempt.
SES_TRANSIENT_CODES = {
    "Throttling",  # v1: "Maximum sending rate exceeded." / "Daily message quota exceeded."
    "ThrottlingException",
    "TooManyRequestsException",  # v2 throttling
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "RequestTimeout",
    "RequestTimeoutException",
}
# SES error codes that no retry can fix.
SES_PERMANENT_CODES = {
    "MessageRejected",
    "MailFromDomainNotVerified",
    "MailFromDomainNotVerifiedException",
    "ConfigurationSetDoesNotExist",
    "ConfigurationSetDoesNotExistException",
    "InvalidParameterValue",
    "BadRequestException",
    "NotFoundException",
}
# SES error codes that stop every email of the account or configuration set until an
# operator acts: not the email's fault, so the email waits instead of failing.
SES_HALT_CODES = {
    "AccountSendingPausedException",
    "ConfigurationSetSendingPausedException",
    "SendingPausedException",
    "AccountSuspendedException",
}
# Throttling codes that mean the rate (as opposed to "Daily message quota exceeded").
SES_THROTTLE_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException"}
DAILY_QUOTA_DELAY = 15 * 60.0  # SES frees the quota gradually: minutes, not seconds

NETWORK_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    smtplib.SMTPServerDisconnected,
    socket.timeout,
    ConnectionError,
    TimeoutError,
    # The limiter's Redis: no slot could be reserved, so nothing was sent.
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def aws_error(exc: BaseException) -> tuple[str, str]:
    """(code, message) of an AWS error: a ClientError's own, else the exception's type and text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return error.get("Code", "Unknown"), error.get("Message", "")
    return type(exc).__name__, str(exc)


def _classify_client_error(exc: ClientError) -> Outcome:
    code, message = aws_error(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in SES_HALT_CODES:
        return Outcome(True, code, message, provider=True, halt=True)
    if code in SES_TRANSIENT_CODES or status >= 500 or status == 429:
        if "daily" in message.lower():
            return Outcome(True, code, message, DAILY_QUOTA_DELAY, provider=True)
        return Outcome(True, code, message, provider=True, throttled=code in SES_THROTTLE_CODES or status == 429)
    # SES_PERMANENT_CODES and every other 4xx: the request itself is wrong.
    return Outcome(False, code, message)


# SMTP replies that speak for the whole server, not for one recipient (RFC 5321 4.2.3).
SMTP_SERVER_CODES = {421}


def _classify_smtp_code(code: int, message: bytes | str) -> Outcome:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return Outcome(400 <= code < 500, f"SMTP {code}", text, provider=code in SMTP_SERVER_CODES)


def classify(exc: BaseException) -> Outcome:
    """Map an exception raised while sending to a transient or permanent Outcome."""
    if isinstance(exc, ClientError):
        return _classify_client_error(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # Transient only if some recipient was refused with a 4xx.
        outcomes = [_classify_smtp_code(c, m) for c, m in exc.recipients.values()]
        return next((o for o in outcomes if o.transient), outcomes[0])
    if isinstance(exc, smtplib.SMTPResponseException):
        return _classify_smtp_code(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, NETWORK_ERRORS):
        return Outcome(True, type(exc).__name__, str(exc), provider=True)
    if isinstance(exc, NothingSent):
        return Outcome(True, "NothingSent", str(exc))
    return Outcome(False, type(exc).__name__, str(exc))
