"""Keys and rates for django-ratelimit on the account pages.

Rates are read from settings at request time, so they can be tuned without code.
Per-address keys are the posted address in its canonical form (accounts.addresses),
per-username keys the posted name as the login compares it, whether or not either
has an account, so the limit itself reveals nothing. The IP key is
django-ratelimit's ``ip``, which reads electnepal.client_ip (REMOTE_ADDR unless
TRUSTED_PROXY_COUNT says which X-Forwarded-For entry our proxies wrote).

Failed logins are limited by counters of their own (below): an attempt is
counted before its password check and given back if it succeeds, so only a
failure spends the allowance, and parallel attempts cannot overshoot a limit.
"""

import contextlib
import hashlib
import time
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import caches

# django-ratelimit's own "ip" key (private in the pinned 4.1.0): RATELIMIT_IP_META_KEY and the IPv6 mask.
from django_ratelimit.core import _get_ip as ratelimit_ip
from django_ratelimit.exceptions import Ratelimited

from .addresses import address_key

LOGIN_FAILURES_IP = "login-failures-ip"
LOGIN_FAILURES_IP_USERNAME = "login-failures-ip-username"
LOGIN_FAILURES_USERNAME = "login-failures-username"


def limit(setting_name: str):
    """A django-ratelimit ``rate`` callable reading ``settings.<setting_name>``."""

    def rate(group, request) -> str:
        return getattr(settings, setting_name)

    return rate


def posted_email_key(group, request) -> str:
    """The posted address in its canonical form (accounts.addresses): one allowance per address, account or not.

    ``ſita@…`` and ``sita@…`` are one address, and so one allowance.
    """
    return address_key(request.POST.get("email") or "")


def link_key(group, request) -> str:
    """The link a verify or reset POST targets: its token, hashed (never a raw token in Redis)."""
    token = str(request.resolver_match.kwargs.get("token", "")).lower()
    return hashlib.sha256(token.encode()).hexdigest()


# --- Failed logins ------------------------------------------------------------------
#
# Hard limits per IP and per (IP, username): past either, a POST gets 429 without
# a password check. Per username only a slowdown: a hard per-username limit lets
# anyone lock any account (the admin's included) by failing its logins, whereas
# a delay costs the owner seconds and still lets the right password in from a
# new IP. The delay is capped so that it cannot hold a web worker for long.
#
# Counting is atomic: an attempt takes its place in the IP and (IP, username)
# counters (one INCR each in Redis) before the password is checked, and gives it
# back if the login succeeds. Checking first and counting after the failure, as
# before, let parallel requests all pass the check and overshoot the limit.


@dataclass
class LoginAttempt:
    """One login POST's places in the failure counters (see login_attempt_begin)."""

    taken: list[str] = field(default_factory=list)  # cache keys counted for this attempt
    delay: float = 0.0  # seconds to wait before checking the password


def _cache():
    return caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _split_rate(rate: str) -> tuple[int, int]:
    """django-ratelimit's rate syntax: "10/h", "5/15m" → (10, 3600), (5, 900)."""
    count, per = rate.split("/")
    multiplier, unit = per[:-1] or "1", per[-1].lower()
    return int(count), int(multiplier) * _PERIODS[unit]


def _counter_key(group: str, value: str, period: int) -> str:
    # Fixed windows; the value is hashed (no username or IP in plain text in Redis).
    window = int(time.time()) // period
    return f"login:{group}:{period}:{window}:{hashlib.sha256(value.encode()).hexdigest()}"


def _count(key: str, period: int, delta: int = 1) -> int:
    """Add ``delta`` to the counter ``key`` atomically (SET NX, then INCRBY); return the new count."""
    cache = _cache()
    cache.add(key, 0, period + 60)
    try:
        return cache.incr(key, delta)
    except ValueError:  # the window's key expired between the two calls: a fresh window
        cache.add(key, delta, period + 60)
        return delta


def _peek(key: str) -> int:
    return int(_cache().get(key) or 0)


def login_username_key(request) -> str:
    """The posted username as the login's lookup compares it (NFKC, lower case): one allowance per name."""
    return unicodedata.normalize("NFKC", request.POST.get("username") or "").strip().lower()


def login_attempt_begin(request) -> LoginAttempt:
    """Count this login POST against its IP and (IP, username); raise Ratelimited past either limit.

    Returns the attempt, whose ``delay`` is the wait the username's recent failures
    call for (0 below RATELIMIT_LOGIN_FAILURES_USERNAME; then doubling from
    RATELIMIT_LOGIN_SLOWDOWN_SECONDS, capped at RATELIMIT_LOGIN_SLOWDOWN_MAX_SECONDS).
    A refused attempt keeps its count. With RATELIMIT_ENABLE off: no count, no delay.
    """
    attempt = LoginAttempt()
    if not settings.RATELIMIT_ENABLE:
        return attempt
    ip, username = ratelimit_ip(request), login_username_key(request)
    over = False
    for group, value, rate in (
        (LOGIN_FAILURES_IP, ip, settings.RATELIMIT_LOGIN_FAILURES_IP),
        (LOGIN_FAILURES_IP_USERNAME, f"{ip} {username}", settings.RATELIMIT_LOGIN_FAILURES_IP_USERNAME),
    ):
        limit_, period = _split_rate(rate)
        key = _counter_key(group, value, period)
        attempt.taken.append(key)
        over = _count(key, period) > limit_ or over
    if over:
        raise Ratelimited()
    limit_, period = _split_rate(settings.RATELIMIT_LOGIN_FAILURES_USERNAME)
    failures = _peek(_counter_key(LOGIN_FAILURES_USERNAME, username, period))
    if failures >= limit_:
        attempt.delay = min(
            settings.RATELIMIT_LOGIN_SLOWDOWN_SECONDS * 2 ** (failures - limit_),
            settings.RATELIMIT_LOGIN_SLOWDOWN_MAX_SECONDS,
        )
    return attempt


def login_attempt_failed(request) -> None:
    """The password check failed: the attempt keeps its places, and the username's failures grow."""
    if not settings.RATELIMIT_ENABLE:
        return
    _limit, period = _split_rate(settings.RATELIMIT_LOGIN_FAILURES_USERNAME)
    _count(_counter_key(LOGIN_FAILURES_USERNAME, login_username_key(request), period), period)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The login succeeded: give the attempt's places back (only failures spend the allowance)."""
    cache = _cache()
    for key in attempt.taken:
        with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing left to give back
            cache.decr(key)
