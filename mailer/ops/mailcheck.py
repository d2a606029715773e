"""Is email going to work? The checks behind ``manage.py mailcheck``.

Nothing here sends an email, except ``send_test``, which goes through the whole
pipeline (outbox, broker, worker, backend) as any other email does.

Each check returns Findings: what was looked at, whether it is fine, what was seen,
and for a problem a hint naming the fix. The troubleshooting cases of the original
operations notes each get their own message: credentials refused, sender not
verified, recipient not verified while SES is in the sandbox, no worker running,
broker down.
"""

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.utils import parseaddr

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from celery import current_app
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import transaction

from ..models import Email
from ..outbox.enqueue import enqueue
from ..sending.errors import aws_error

# Error codes with which AWS refuses an access key or its signature.
BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSignatureException",
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
}
TEST_TEMPLATE = "mailer/email/mailcheck"


@dataclass(frozen=True)
class Finding:
    ok: bool
    label: str
    detail: str
    hint: str = ""


def backend_kind() -> str:
    """``ses``, ``smtp`` or ``other`` (console, file, locmem...) for settings.EMAIL_BACKEND."""
    backend = get_connection()
    try:
        from django_ses import SESBackend
    except ImportError:  # pragma: no cover - django-ses is a requirement
        SESBackend = ()
    if isinstance(backend, SESBackend):
        return "ses"
    if isinstance(backend, SMTPBackend):
        return "smtp"
    return "other"


def check_backend(*, recipient: str | None = None) -> list[Finding]:
    """Check the configured backend without sending; ``recipient`` adds the sandbox check for it."""
    kind = backend_kind()
    if kind == "ses":
        return check_ses(recipient=recipient)
    if kind == "smtp":
        return check_smtp()
    return [
        Finding(
            True,
            "backend",
            f"{settings.EMAIL_BACKEND} does not deliver to a mail server (nothing to connect to)",
            "Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (SES) or EMAIL_BACKEND=django.core.mail.backends.smtp"
            ".EmailBackend to deliver for real.",
        )
    ]


# --- SES ----------------------------------------------------------------------


def _ses_clients():
    """SES v2 and v1 clients with exactly django-ses's credentials, region, endpoint and config."""
    backend = get_connection()
    session = backend.create_session()
    options = {"region_name": backend._region_name, "endpoint_url": backend._endpoint_url, "config": backend._config}
    return session.client("sesv2", **options), session.client("ses", **options)


def _endpoint() -> str:
    """Where django-ses sends: the endpoint override, else the region's SES endpoint."""
    return getattr(settings, "AWS_SES_REGION_ENDPOINT_URL", None) or settings.AWS_SES_REGION_ENDPOINT


def _credentials_finding(exc: Exception) -> Finding:
    code, message = aws_error(exc)
    if isinstance(exc, NoCredentialsError):
        return Finding(
            False,
            "credentials",
            "no AWS credentials found",
            "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance role provides them.",
        )
    if code in BAD_CREDENTIALS:
        return Finding(
            False,
            "credentials",
            f"SES refused the credentials: {code}: {message}",
            "Check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (an SMTP password is not a secret access key), "
            "that the key is active, and that its policy allows ses:GetAccount and ses:SendEmail.",
        )
    endpoint = _endpoint()
    return Finding(
        False,
        "connection",
        f"could not reach SES at {endpoint}: {code}: {message}",
        "Check AWS_SES_REGION_NAME / AWS_SES_REGION_ENDPOINT_URL and the network.",
    )


def _account(v2, v1) -> tuple[dict, list[Finding]]:
    """SES's view of the account: GetAccount (v2), or GetSendQuota (v1) where v2 lacks it."""
    try:
        account = v2.get_account()
    except ClientError as exc:
        code, _ = aws_error(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in BAD_CREDENTIALS or status not in (404, 501):
            raise
        # An endpoint without GetAccount (a local emulator): the quota, no sandbox flag.
        quota = v1.get_send_quota()
        return {
            "SendQuota": {
                "MaxSendRate": quota["MaxSendRate"],
                "Max24HourSend": quota["Max24HourSend"],
                "SentLast24Hours": quota["SentLast24Hours"],
            },
            "SendingEnabled": True,
        }, [Finding(True, "account", "this endpoint has no GetAccount; sandbox status unknown (GetSendQuota used)")]
    return account, []


def _identity_verified(v2, identity: str) -> bool | None:
    """True/False for a known identity; None if SES does not know it at all."""
    try:
        answer = v2.get_email_identity(EmailIdentity=identity)
    except ClientError as exc:
        if aws_error(exc)[0] in ("NotFoundException", "NotFound"):
            return None
        raise
    # VerificationStatus SUCCESS is the verification itself; VerifiedForSendingStatus
    # adds that sending is allowed. Either answers "did the owner prove it".
    return bool(answer.get("VerifiedForSendingStatus")) or answer.get("VerificationStatus") == "SUCCESS"


def _address_verified(v2, address: str) -> bool:
    """An address may send/receive in SES if it, or its domain, is a verified identity."""
    domain = address.rpartition("@")[2]
    return bool(_identity_verified(v2, address) or _identity_verified(v2, domain))


def check_ses(*, recipient: str | None = None) -> list[Finding]:
    """Credentials, account status and quota, the sender's identity, and the recipient in the sandbox."""
    try:
        v2, v1 = _ses_clients()
        account, findings = _account(v2, v1)
    except (ClientError, BotoCoreError) as exc:
        return [_credentials_finding(exc)]
    endpoint = _endpoint()
    findings.insert(0, Finding(True, "credentials", f"accepted by SES at {endpoint} ({settings.AWS_SES_REGION_NAME})"))

    sandbox = account.get("ProductionAccessEnabled") is False
    if "ProductionAccessEnabled" in account:
        mode = "sandbox (only verified recipients)" if sandbox else "production"
        findings.append(Finding(True, "account", f"{mode}; enforcement {account.get('EnforcementStatus', 'n/a')}"))
    if not account.get("SendingEnabled", True):
        findings.append(
            Finding(False, "sending", "sending is paused for this account", "See the SES console's reputation page.")
        )
    quota = account.get("SendQuota", {})
    rate, day, used = quota.get("MaxSendRate", 0), quota.get("Max24HourSend", 0), quota.get("SentLast24Hours", 0)
    findings.append(Finding(True, "quota", f"max {rate:g}/s, {day:,.0f} per 24 h, {used:,.0f} used"))
    if rate and rate < settings.MAILER_MAX_SEND_RATE:
        findings.append(
            Finding(
                False,
                "quota",
                f"MAILER_MAX_SEND_RATE={settings.MAILER_MAX_SEND_RATE:g} is above SES's {rate:g}/s",
                f"Set MAILER_MAX_SEND_RATE to {rate:g} or less, or SES will throttle.",
            )
        )
    if day and day < settings.MAILER_MAX_24H_SEND:
        findings.append(
            Finding(
                False,
                "quota",
                f"MAILER_MAX_24H_SEND={settings.MAILER_MAX_24H_SEND:,} is above SES's {day:,.0f}",
                f"Set MAILER_MAX_24H_SEND to {day:,.0f} or less.",
            )
        )

    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    try:
        if _address_verified(v2, sender):
            findings.append(Finding(True, "sender", f"{sender} is a verified identity"))
        else:
            findings.append(
                Finding(
                    False,
                    "sender",
                    f"DEFAULT_FROM_EMAIL {sender} is not verified in SES ({settings.AWS_SES_REGION_NAME})",
                    f"Verify the domain {sender.rpartition('@')[2]} (or the address) in this region: "
                    "aws sesv2 create-email-identity --email-identity <domain>, then publish its DKIM records.",
                )
            )
        if recipient and sandbox:
            if _address_verified(v2, recipient):
                findings.append(Finding(True, "recipient", f"{recipient} is verified (needed in the sandbox)"))
            else:
                findings.append(
                    Finding(
                        False,
                        "recipient",
                        f"{recipient} is not verified and SES is in the sandbox: SES would reject it",
                        "Verify the recipient (aws sesv2 create-email-identity --email-identity ADDRESS) or "
                        "request production access (docs/deploy.md).",
                    )
                )
    except (ClientError, BotoCoreError) as exc:
        findings.append(_credentials_finding(exc))
    return findings


# --- SMTP ---------------------------------------------------------------------


def check_smtp() -> list[Finding]:
    """Connect, EHLO, STARTTLS (or SSL) when configured, and log in when a user is set."""
    host, port = settings.EMAIL_HOST, settings.EMAIL_PORT
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 20
    context = ssl.create_default_context()
    findings: list[Finding] = []
    try:
        if getattr(settings, "EMAIL_USE_SSL", False):
            server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
    except (OSError, smtplib.SMTPException) as exc:
        return [
            Finding(
                False,
                "connection",
                f"could not connect to {host}:{port}: {exc}",
                "Check EMAIL_HOST and EMAIL_PORT, and that the server accepts connections from here.",
            )
        ]
    try:
        findings.append(Finding(True, "connection", f"connected to {host}:{port}"))
        server.ehlo()
        if settings.EMAIL_USE_TLS:
            if not server.has_extn("starttls"):
                findings.append(
                    Finding(False, "tls", f"{host} does not offer STARTTLS", "Set EMAIL_USE_TLS=false or use port 465.")
                )
                return findings
            server.starttls(context=context)
            server.ehlo()
            findings.append(Finding(True, "tls", "STARTTLS negotiated"))
        if settings.EMAIL_HOST_USER:
            server.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            findings.append(Finding(True, "login", f"logged in as {settings.EMAIL_HOST_USER}"))
        else:
            findings.append(Finding(True, "login", "no EMAIL_HOST_USER: not logging in"))
    except smtplib.SMTPAuthenticationError as exc:
        findings.append(
            Finding(
                False,
                "login",
                f"{host} refused the login of {settings.EMAIL_HOST_USER}: {exc.smtp_code} {exc.smtp_error!r}",
                "Check EMAIL_HOST_USER and EMAIL_HOST_PASSWORD (for SES SMTP: the SMTP credentials, not the "
                "access key).",
            )
        )
    except (OSError, ssl.SSLError, smtplib.SMTPException) as exc:
        findings.append(Finding(False, "smtp", f"{host}:{port}: {exc}", "Check EMAIL_USE_TLS/EMAIL_USE_SSL."))
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return findings


# --- The pipeline -------------------------------------------------------------


def check_broker(*, timeout: float = 3.0) -> Finding:
    """Can the broker be reached?"""
    conn = current_app.connection_for_write()
    uri = conn.as_uri()  # the password masked
    try:
        with conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 kombu raises a variety (OperationalError, socket errors)
        return Finding(
            False,
            "broker",
            f"the broker at {uri} does not answer: {exc}",
            "Start Redis (redis-server) or fix REDIS_URL; emails wait in the outbox until it answers.",
        )
    return Finding(True, "broker", f"{uri} answers")


def check_workers(*, timeout: float = 2.0) -> Finding:
    """Is some worker consuming the mail's queue (settings.MAILER_QUEUE)?"""
    queue = settings.MAILER_QUEUE
    replies = current_app.control.inspect(timeout=timeout).active_queues() or {}
    consuming = sorted(name for name, queues in replies.items() if any(q["name"] == queue for q in queues))
    if consuming:
        return Finding(True, "workers", f"{len(consuming)} consuming {queue}: {', '.join(consuming)}")
    if replies:
        return Finding(
            False,
            "workers",
            f"{len(replies)} worker(s) answered but none consumes {queue}",
            "Start one without -Q (it consumes every queue): celery -A worker worker",
        )
    return Finding(
        False,
        "workers",
        f"no worker answered within {timeout:g} s",
        "Start one: celery -A worker worker (make run starts one). Queued emails wait in the outbox.",
    )


def send_test(*, to: str, timeout: float = 60.0, poll: float = 0.2) -> Email:
    """Queue a test email to ``to`` (high priority) and wait for a final status or the timeout.

    Returns the row as last seen: a final status, or still queued/sending on timeout.
    """
    with transaction.atomic():
        (email,) = enqueue(template=TEST_TEMPLATE, to=to, priority=Email.Priority.HIGH)
    deadline = time.monotonic() + timeout
    while True:
        email.refresh_from_db()
        if email.status in Email.FINAL_STATUSES or time.monotonic() >= deadline:
            return email
        time.sleep(poll)


def describe_outcome(email: Email) -> Finding:
    """What became of a test email, with the provider's message id or the errors."""
    if email.status == Email.Status.SENT:
        return Finding(True, "test email", f"#{email.pk} sent to {email.to}; SES message id {email.message_id}")
    if email.status == Email.Status.SUPPRESSED:
        return Finding(
            False,
            "test email",
            f"#{email.pk} not sent: {email.to} is on the suppression list (an earlier bounce or complaint)",
            "Remove it from the suppression list in the admin if the address works again.",
        )
    if email.status in Email.FINAL_STATUSES:
        return Finding(
            False,
            "test email",
            f"#{email.pk} {email.status} after {email.attempts} attempt(s): {email.last_error}",
            "The error above is SES's (or the SMTP server's) own words.",
        )
    waiting = f", last error: {email.last_error}" if email.last_error else ""
    return Finding(
        False,
        "test email",
        f"#{email.pk} still {email.status} after {email.attempts} attempt(s){waiting}",
        "It stays in the outbox and will be sent when a worker takes it; check the worker's log.",
    )


__all__ = [
    "Finding",
    "backend_kind",
    "check_backend",
    "check_broker",
    "check_workers",
    "describe_outcome",
    "send_test",
]
