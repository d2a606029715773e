"""Sentry (``SENTRY_DSN``): errors of web, workers and beat, redacted like every log line.

``sentry_init`` is called by settings when ``SENTRY_DSN`` is set. sentry-sdk's
Django, Celery and logging integrations then send unhandled exceptions and
ERROR records. ``send_default_pii`` stays off (no cookies, user or IP), and the
SDK's own scrubber removes denylisted keys (``password``, ``token``, ``cookie``...)
from request data and frame variables.

``before_send`` then does what electnepal.redaction does for logs and the ADMINS
report: every link token is blanked in every string of the event (URL, message,
exception values, frame variables, breadcrumbs), in each of its spellings (dashed,
bare hex, upper case), wherever a token path names it.
"""

import re

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from .redaction import MASK, path_tokens, redact


def _strings(value):
    """Every string in a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _masked(value, pattern: re.Pattern | None):
    if isinstance(value, str):
        return redact(pattern.sub(MASK, value) if pattern else value)
    if isinstance(value, dict):
        return {_masked(key, pattern): _masked(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, pattern) for item in value]
    if isinstance(value, tuple):
        return tuple(_masked(item, pattern) for item in value)
    return value


def redact_event(event: dict) -> dict:
    """``event`` with every link token blanked, in every spelling, wherever it appears."""
    tokens = set()
    for text in _strings(event):
        tokens |= path_tokens(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))) if tokens else None
    return _masked(event, pattern)


def before_send(event: dict, hint: dict) -> dict:
    """sentry-sdk's ``before_send`` (and ``before_send_transaction``): the event, redacted."""
    return redact_event(event)


def sentry_init(*, dsn: str, environment: str, release: str = "", traces_sample_rate: float = 0.0) -> bool:
    """Start sentry-sdk when ``dsn`` is set; True when it did. Idempotent per process."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=before_send,
        before_send_transaction=before_send,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
    return True
