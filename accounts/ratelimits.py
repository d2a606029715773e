"""Keys and rates for django-ratelimit on the account pages.

Rates are read from settings at request time, so they can be tuned without code.
Per-address (and per-username) keys are the lower-cased posted value, whether or
not it has an account, so the limit itself reveals nothing. The IP key is
django-ratelimit's ``ip``, which reads electnepal.client_ip (REMOTE_ADDR unless
TRUSTED_PROXY_COUNT says which X-Forwarded-For entry our proxies wrote).

Failed logins are counted after the fact (only a failure spends the allowance),
so they use django-ratelimit's core functions rather than its decorator.
"""

import hashlib

from django.conf import settings
from django_ratelimit.core import get_usage

LOGIN_FAILURES_IP = "login-failures-ip"
LOGIN_FAILURES_USERNAME = "login-failures-username"


def limit(setting_name: str):
    """A django-ratelimit ``rate`` callable reading ``settings.<setting_name>``."""

    def rate(group, request) -> str:
        return getattr(settings, setting_name)

    return rate


def posted_email_key(group, request) -> str:
    """The posted address, trimmed and lower-cased: one allowance per address, account or not."""
    return (request.POST.get("email") or "").strip().lower()


def posted_username_key(group, request) -> str:
    """The posted username, trimmed and lower-cased: one allowance per name, account or not."""
    return (request.POST.get("username") or "").strip().lower()


def link_key(group, request) -> str:
    """The link a verify or reset POST targets: its token, hashed (never a raw token in Redis)."""
    token = str(request.resolver_match.kwargs.get("token", "")).lower()
    return hashlib.sha256(token.encode()).hexdigest()


def _login_limits():
    return (
        (LOGIN_FAILURES_IP, "ip", settings.RATELIMIT_LOGIN_FAILURES_IP),
        (LOGIN_FAILURES_USERNAME, posted_username_key, settings.RATELIMIT_LOGIN_FAILURES_USERNAME),
    )


def login_blocked(request) -> bool:
    """True once this IP or this username has used up its failed-login allowance."""
    for group, key, rate in _login_limits():
        usage = get_usage(request, group=group, key=key, rate=rate, method="POST", increment=False)
        if usage is not None and usage["count"] >= usage["limit"]:
            return True
    return False


def login_failed(request) -> None:
    """Count one failed login against the IP and the username tried."""
    for group, key, rate in _login_limits():
        get_usage(request, group=group, key=key, rate=rate, method="POST", increment=True)
