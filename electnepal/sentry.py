"""Sentry (``SENTRY_DSN``): errors of web, workers and beat, redacted like every log line.

``sentry_init`` is called by settings when ``SENTRY_DSN`` is set. sentry-sdk's
Django, Celery and logging integrations then send unhandled exceptions and
ERROR records. No user identity and no request body is collected: a form's body
holds passwords under names the SDK's denylist does not know (``password_confirm``,
``new_password1``), which Django's own reports hide through
``sensitive_post_parameters``; the SDK's scrubber still removes denylisted keys
(``password``, ``token``, ``cookie``...) from headers and frame variables.

``before_send`` then does what electnepal.redaction does for logs and the ADMINS
report: every link token is blanked in every string of the event (URL, message,
exception values, frame variables, breadcrumbs), in each of its spellings (dashed,
bare hex, upper case), wherever a token path names it; and a request body, should
one be there, is dropped.
"""

import re

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from .redaction import MASK, path_tokens, redact, request_tokens


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


UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)


def _frame_tokens(event: dict) -> set[str]:
    """Spellings of the values of frame variables named ``token`` (the views' URL argument)."""
    tokens = set()
    for values in (event.get("exception") or {}).get("values") or []:
        for frame in ((values or {}).get("stacktrace") or {}).get("frames") or []:
            value = (frame.get("vars") or {}).get("token")
            if isinstance(value, str):
                for found in UUID.finditer(value):
                    tokens |= path_tokens(f"/verify-email/{found.group(0)}/")
    return tokens


def redact_event(event: dict, *, request=None) -> dict:
    """``event`` with every link token blanked, in every spelling, wherever it appears.

    The tokens: those of every token path in the event's strings, the ``token``
    variables of its frames, and those of ``request`` (the logged request, if any).
    """
    tokens = request_tokens(request) | _frame_tokens(event)
    for text in _strings(event):
        tokens |= path_tokens(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))) if tokens else None
    return _masked(event, pattern)


def before_send(event: dict, hint: dict) -> dict:
    """sentry-sdk's ``before_send`` (and ``before_send_transaction``): the event, redacted, without a body."""
    if isinstance(event.get("request"), dict):
        event["request"].pop("data", None)
    record = (hint or {}).get("log_record")
    return redact_event(event, request=getattr(record, "request", None))


def sentry_init(*, dsn: str, environment: str, release: str = "", traces_sample_rate: float = 0.0) -> bool:
    """Start sentry-sdk when ``dsn`` is set; True when it did. Idempotent per process."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        data_collection={"user_info": False, "http_bodies": []},
        traces_sample_rate=traces_sample_rate or None,  # 0: no tracing at all
        before_send=before_send,
        before_send_transaction=before_send,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
    return True
