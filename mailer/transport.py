"""Sending one message through Django's email backend, and what its errors mean.

One backend connection per worker thread, opened once and reused: SMTP pays a
handshake and a login per connection. After an error the connection is dropped and
the next send opens a fresh one.

django-ses builds a boto3 session and client per connection: ~90 ms of CPU and
~9 MB each, measured. boto3 clients are thread-safe (sessions are not), so the SES
backends of all threads of a process share one client, with its pool of HTTPS
connections (AWS_SES_MAX_POOL_CONNECTIONS, 32). A send error does not replace it:
urllib3 drops a broken connection from the pool by itself, and rebuilding the client
on every throttling answer would cost the CPU most needed then. A settings change
(tests, mostly) does.

``classify`` turns whatever the backend raised into an Outcome: transient errors
are worth another attempt later, permanent ones are not.
"""

import smtplib
import socket
import threading
from dataclasses import dataclass

import redis

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_ses import SESBackend


class NothingSent(Exception):
    """The backend returned without error but reported zero messages sent."""


@dataclass(frozen=True)
class Outcome:
    transient: bool
    code: str
    detail: str
    # Wait at least this long before the next attempt (e.g. a daily quota).
    min_delay: float = 0.0


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
    "AccountSendingPausedException",
    "ConfigurationSetSendingPausedException",
    "SendingPausedException",
    "InvalidParameterValue",
    "BadRequestException",
    "NotFoundException",
    "AccountSuspendedException",
}
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


def _classify_client_error(exc: ClientError) -> Outcome:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    message = error.get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in SES_TRANSIENT_CODES or status >= 500 or status == 429:
        min_delay = DAILY_QUOTA_DELAY if "daily" in message.lower() else 0.0
        return Outcome(True, code, message, min_delay)
    # SES_PERMANENT_CODES and every other 4xx: the request itself is wrong.
    return Outcome(False, code, message)


def _classify_smtp_code(code: int, message: bytes | str) -> Outcome:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return Outcome(400 <= code < 500, f"SMTP {code}", text)


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
        return Outcome(True, type(exc).__name__, str(exc))
    if isinstance(exc, NothingSent):
        return Outcome(True, "NothingSent", str(exc))
    return Outcome(False, type(exc).__name__, str(exc))


_local = threading.local()
# Bumped whenever a setting changes at run time (tests, mostly), so that every
# thread's connection is rebuilt with the new backend, endpoint or credentials.
_settings_generation = 0


@receiver(setting_changed)
def _on_setting_changed(**kwargs) -> None:
    global _settings_generation
    _settings_generation += 1


_ses_clients: dict[tuple, object] = {}
_ses_clients_lock = threading.Lock()


def _open(conn: BaseEmailBackend, generation: int) -> None:
    """Open ``conn``; an SES backend gets the process's boto3 client for this settings generation."""
    if not isinstance(conn, SESBackend):
        conn.open()
        return
    key = (type(conn), generation)
    with _ses_clients_lock:
        client = _ses_clients.get(key)
        if client is None:
            conn.open()  # builds the client from settings, as django-ses does
            _ses_clients.clear()  # clients of older settings generations
            _ses_clients[key] = client = conn.connection
    conn.connection = client


def connection() -> BaseEmailBackend:
    """This thread's open connection to settings.EMAIL_BACKEND."""
    conn = getattr(_local, "connection", None)
    if conn is None or _local.generation != _settings_generation:
        reset_connection()
        generation = _settings_generation
        conn = get_connection(settings.EMAIL_BACKEND)
        _open(conn, generation)
        _local.connection, _local.generation = conn, generation
    return conn


def probe() -> str:
    """One read-only call on this process's SES client; what SES answered ("ok" or an error code).

    GetAccount (v2) or GetSendQuota (v1), both in the deployment guide's IAM policy.
    Nothing is sent. Its use is the first request itself: botocore's first call on a
    client costs a few ms more than the next ones (a pooled connection, the signer,
    the endpoint rules), and a process's first send, paying it, reached SES late
    enough to crowd the send slots after it. Other backends: "-" (nothing to probe).
    """
    conn = connection()
    if not isinstance(conn, SESBackend):
        return "-"
    client = conn.connection
    try:
        client.get_account() if client.meta.service_model.service_name == "sesv2" else client.get_send_quota()
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return "ok"


def reset_connection() -> None:
    """Close and forget this thread's connection (after an error, or a settings change)."""
    conn = getattr(_local, "connection", None)
    _local.connection = None
    if conn is not None:
        try:
            conn.close()
        except Exception:  # a broken connection may fail to close; it is dropped anyway
            pass


def send(message: EmailMessage) -> str:
    """Send ``message`` on this thread's connection; return the provider's message id.

    Raises whatever the backend raised (see classify), or NothingSent.
    """
    conn = connection()
    try:
        sent = conn.send_messages([message])
    except BaseException:
        reset_connection()
        raise
    if not sent:
        reset_connection()
        raise NothingSent("The email backend reported that it sent nothing.")
    # django-ses records SES's MessageId here; other backends keep our Message-ID.
    return str(message.extra_headers.get("message_id") or message.extra_headers.get("Message-ID", ""))
