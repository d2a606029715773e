"""Keep one-time link tokens out of log lines and exception reports.

The links of verification and password-reset emails carry their token in the
path (/auth/verify-email/<token>/, /auth/reset-password/<token>/). Django puts
``request.path`` into the log line of every 4xx/5xx response ("Not Found: …",
"Internal Server Error: …"), runserver logs every request line, and an exception
report (the DEBUG page, or AdminEmailHandler's email) shows the URL, the WSGI
environment and every frame's local variables, the view's ``token`` among them.

- ``RedactTokensFilter``: a logging filter on every handler of settings.LOGGING;
  it rewrites the message and the formatted traceback of a record.
- ``RedactingExceptionReporter`` (settings.DEFAULT_EXCEPTION_REPORTER): renders
  the report as Django does, then blanks the request's token wherever it appears
  (URL, META, frame variables, exception messages), in any of its spellings.
"""

import logging
import re
import uuid

from django.views.debug import ExceptionReporter

MASK = "********"
# The segment after a token path, whatever it holds (a 404 for a malformed token
# still logs what was sent, which may be a real token mistyped).
TOKEN_PATH = re.compile(r"(/(?:verify-email|reset-password)/)([^/?#\s'\"<>&]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the token of every verification or reset path replaced by a mask."""
    return TOKEN_PATH.sub(lambda m: m.group(1) + MASK, text)


def _spellings(token) -> set[str]:
    """Every way a token may be written: dashed or bare hex, lower or upper case."""
    try:
        value = uuid.UUID(str(token))
    except (TypeError, ValueError, AttributeError):
        text = str(token)
        return {text} if len(text) >= 8 else set()
    forms = {str(value), value.hex}
    return forms | {f.upper() for f in forms}


def request_tokens(request) -> set[str]:
    """The spellings of the token a request carries, from its resolved URL or its path."""
    if request is None:
        return set()
    tokens = set()
    match = getattr(request, "resolver_match", None)
    if match is not None and "token" in match.kwargs:
        tokens |= _spellings(match.kwargs["token"])
    return tokens | path_tokens(getattr(request, "path", "") or "")


def path_tokens(text: str) -> set[str]:
    """The spellings of the token of every verification or reset path in ``text``."""
    tokens = set()
    for found in TOKEN_PATH.finditer(text):
        tokens |= _spellings(found.group(2))
    return tokens


def redact_request(text: str, request) -> str:
    """``text`` with the token of ``request`` masked in every spelling, then every token path (``redact``)."""
    for token in sorted(request_tokens(request), key=len, reverse=True):
        text = text.replace(token, MASK)
    return redact(text)


class RedactTokensFilter(logging.Filter):
    """Rewrites a record so that no handler can write a token: message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 a malformed record: leave it to the handler to report
            return True
        record.msg, record.args = redact_request(message, request), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_request(record.exc_text, request)
        return True


class RedactingExceptionReporter(ExceptionReporter):
    """Django's exception report (DEBUG page, admin email) with the request's token blanked."""

    def get_traceback_html(self):
        return redact_request(super().get_traceback_html(), self.request)

    def get_traceback_text(self):
        return redact_request(super().get_traceback_text(), self.request)
