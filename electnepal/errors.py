"""Server errors reported to ADMINS: one email per distinct error, through the outbox.

``AdminOutboxHandler`` sits on the ``django`` logger (settings.LOGGING, level ERROR,
DEBUG off), where Django's own ``mail_admins`` handler would be: a 500 in a view,
a 5xx response. Unlike Django's handler it does not talk to the mail server from
the failing request; it writes an outbox row (``mailer.api.enqueue``), which a
worker sends like any email.

- **One email per distinct error:** an error is known by its exception's type and
  the place it was raised (file, function, line), or, without an exception, by the
  logger, the message's template and the URL pattern. The first of each in
  ``ERROR_EMAIL_INTERVAL_SECONDS`` (an hour) is emailed, across all processes
  (a Redis key, SET NX EX through the cache); the others are only logged. With
  Redis down, each process keeps the interval for itself.
- **Redacted:** the report is Django's exception report (settings.
  DEFAULT_EXCEPTION_REPORTER, which blanks the request's link token) and the
  logging filter has already blanked tokens in the message; both pass through
  ``redact_request`` again before anything is written.
- **Never recursive:** an error logged while a report is being written (the
  database gone, say) is not reported again, and the handler's own failure goes to
  stderr through ``logging.Handler.handleError``, never to a logger.

A report written inside a transaction that later rolls back is lost with it; the
console line and Sentry (``SENTRY_DSN``) still have the error.
"""

import hashlib
import logging
import threading
import time
import traceback

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.views.debug import get_exception_reporter_class

from .redaction import redact_request

TEMPLATE = "electnepal/email/server_error"
CACHE_KEY = "errors:reported:{}"
SUBJECT_LENGTH = 150

_reporting = threading.local()
# Fallback throttle when the cache (Redis) does not answer: fingerprint -> monotonic time.
_local_seen: dict[str, float] = {}
_local_lock = threading.Lock()


def error_fingerprint(record: logging.LogRecord) -> str:
    """What makes two error records "the same error" (a hex digest)."""
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].name}:{frames[-1].lineno}" if frames else ""
        parts = [type(exc).__module__, type(exc).__qualname__, where]
    else:
        request = getattr(record, "request", None)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else getattr(request, "path", "")
        parts = [record.name, str(record.msg), str(getattr(record, "status_code", "")), route]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _first_in_interval(fingerprint: str) -> bool:
    """True for the first report of ``fingerprint`` in the interval (every process together when Redis answers)."""
    interval = settings.ERROR_EMAIL_INTERVAL_SECONDS
    try:
        return bool(cache.add(CACHE_KEY.format(fingerprint), 1, timeout=interval))
    except Exception:  # noqa: BLE001 (the cache backends' errors, redis.RedisError..., share no base)
        now = time.monotonic()
        with _local_lock:
            if now - _local_seen.get(fingerprint, -interval - 1) <= interval:
                return False
            _local_seen[fingerprint] = now
            return True


def error_report(record: logging.LogRecord) -> tuple[str, str]:
    """(summary, report) of an error record: its message, then Django's text exception report, redacted."""
    request = getattr(record, "request", None)
    exc_info = record.exc_info if record.exc_info and record.exc_info[0] else (None, record.getMessage(), None)
    reporter = get_exception_reporter_class(request)(request, *exc_info, is_email=True)
    summary = redact_request(record.getMessage().splitlines()[0] if record.getMessage() else record.levelname, request)
    report = redact_request(f"{summary}\n\n{reporter.get_traceback_text()}", request)
    return summary, report


def server_error_notify(*, record: logging.LogRecord) -> int:
    """Queue the report of ``record`` to ADMINS unless this error was reported within the interval.

    Returns the number of emails queued (0: no ADMINS, or a repeat). Runs in its own
    transaction (a savepoint when the caller has one open).
    """
    from mailer import api as mail  # at call time: the handler is built before the apps are loaded

    addresses = [address for _, address in settings.ADMINS if address]
    if not addresses or not _first_in_interval(error_fingerprint(record)):
        return 0
    summary, report = error_report(record)
    if len(summary) > SUBJECT_LENGTH:
        summary = summary[: SUBJECT_LENGTH - 1] + "…"
    context = {"summary": summary, "report": report, "interval_minutes": settings.ERROR_EMAIL_INTERVAL_SECONDS // 60}
    with transaction.atomic():
        emails = mail.enqueue(
            template=TEMPLATE,
            to=addresses,
            context=context,
            language=settings.LANGUAGE_CODE,
            priority=mail.Priority.HIGH,
        )
    return len(emails)


class AdminOutboxHandler(logging.Handler):
    """A logging handler that emails ADMINS one report per distinct error (see the module's docstring)."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_reporting, "active", False):
            return  # an error raised while reporting one: reporting it could loop
        _reporting.active = True
        try:
            server_error_notify(record=record)
        except Exception:  # noqa: BLE001 (a log call must never raise)
            self.handleError(record)  # stderr, not a logger
        finally:
            _reporting.active = False
