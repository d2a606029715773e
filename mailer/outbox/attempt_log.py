"""One line per delivery attempt in ``logs/email.log`` (the ``mailer.email`` logger).

    2026-11-25 00:04:11,462 INFO mailer.email email=22 kind=verification to=si***@example.com
        attempt=1 status=sent message_id=0100018f… duration_ms=193.0 sent successfully

INFO for a send and for a retry scheduled, ERROR for failed, expired and suppressed.
The address is masked: enough to tell recipients apart, not to read them.
"""

import logging
import time

from ..models import Email

logger = logging.getLogger("mailer.email")

Status = Email.Status


def mask_address(address: str) -> str:
    """``si***@example.com``: enough to tell addresses apart in a log, not to read them."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}***@{domain}"


def log_attempt(email: Email, status: str, started: float, *, message_id: str = "", error: str = "") -> None:
    """Write the line of ``email``'s attempt that ended in ``status``; ``started`` is its time.monotonic()."""
    level = logging.INFO if status in (Status.SENT, Status.QUEUED) else logging.ERROR
    outcome = "sent successfully" if status == Status.SENT else status
    if status == Status.QUEUED:
        outcome = "retry scheduled"
    logger.log(
        level,
        "email=%s kind=%s to=%s attempt=%d status=%s message_id=%s duration_ms=%.1f %s%s",
        email.pk,
        email.kind,
        mask_address(email.to),
        email.attempts,
        status,
        message_id or "-",
        (time.monotonic() - started) * 1000,
        outcome,
        f" error={error}" if error else "",
    )
