"""Settings a production process refuses to start with (called from electnepal/settings.py).

``manage.py check --deploy`` only warns, and only when someone runs it. A site
started with the placeholder key of ``.env.example`` signs sessions, password-reset
state and the key that encrypts queued links with a value anyone can read on
GitHub; a site whose SITE_URL is http emails reset links in clear text. So,
without DEBUG, these stop every process (web, worker, beat, commands) at import
time with an error naming the setting.

This module must not touch ``django.conf.settings``: it runs while they load.
"""

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

# Words of the placeholders people copy from examples (.env.example's ``change-me``,
# tutorials' ``your-secret-key``), compared with the key's letters and digits only,
# so ``Change_Me`` or ``change-me`` repeated to 50 characters are caught too.
PLACEHOLDER_WORDS = (
    "changeme",
    "changethis",
    "replaceme",
    "yoursecretkey",
    "secretkeyhere",
    "notsecret",
    "insecure",
    "placeholder",
    "example",
    "dummy",
)

_GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def secret_key_problem(key: str) -> str:
    """Why ``key`` must not sign anything in production; "" if it may.

    Refused: a known placeholder, Django's ``django-insecure-`` prefix, and keys
    that Django's deploy check (security.W009) calls weak: fewer than
    SECRET_KEY_MIN_LENGTH characters or fewer than SECRET_KEY_MIN_UNIQUE_CHARACTERS
    distinct ones.
    """
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"it starts with {SECRET_KEY_INSECURE_PREFIX!r}"
    letters = re.sub(r"[^a-z0-9]", "", key.lower())
    word = next((w for w in PLACEHOLDER_WORDS if w in letters), None)
    if word:
        return f"it is a placeholder (contains {word!r})"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return f"it has fewer than {SECRET_KEY_MIN_UNIQUE_CHARACTERS} distinct characters"
    return ""


def site_url_problem(url: str) -> str:
    """Why ``url`` must not be the base of emailed links in production; "" if it may."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "it is not https (emailed reset and verification links would travel in clear text)"
    if not parts.hostname:
        return "it has no host name"
    return ""


def production_settings_require_safe(
    *, debug: bool, secret_key: str, secret_key_fallbacks: Iterable[str], site_url: str
) -> None:
    """Raise ImproperlyConfigured, naming the setting, unless DEBUG or the values are safe.

    Checks SECRET_KEY, every SECRET_KEY_FALLBACKS entry (signatures made with a
    fallback are still accepted) and SITE_URL. With DEBUG on, nothing is checked:
    ``make run`` and the tests of DEBUG behaviour keep working.
    """
    if debug:
        return
    problem = secret_key_problem(secret_key)
    if problem:
        raise ImproperlyConfigured(
            f"SECRET_KEY is unsafe: {problem}. Set a random one ({_GENERATE}), or run with DEBUG=true."
        )
    for position, key in enumerate(secret_key_fallbacks, start=1):
        problem = secret_key_problem(key)
        if problem:
            raise ImproperlyConfigured(f"SECRET_KEY_FALLBACKS entry {position} is unsafe: {problem}.")
    problem = site_url_problem(site_url)
    if problem:
        raise ImproperlyConfigured(
            f"SITE_URL {site_url!r} is refused without DEBUG: {problem}. Set SITE_URL=https://<your host>."
        )
