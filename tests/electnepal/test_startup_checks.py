"""electnepal/startup_checks.py: which SECRET_KEY and SITE_URL a production process refuses.

The start-up itself (a process importing the settings) is tested in test_settings.py.
"""

import secrets

import pytest
from django.core.checks.security.base import check_secret_key
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from electnepal.startup_checks import production_settings_require_safe, secret_key_problem, site_url_problem


@pytest.mark.parametrize(
    "key",
    ["short-key", "x" * 60, "django-insecure-" + secrets.token_urlsafe(50), secrets.token_urlsafe(30)],
)
def test_every_key_django_calls_weak_is_refused(key):
    # The deploy check's own verdict (security.W009), then ours.
    with override_settings(SECRET_KEY=key):
        assert [w.id for w in check_secret_key(None)] == ["security.W009"]
    assert secret_key_problem(key)


@pytest.mark.parametrize(
    "key",
    [
        "change-me",
        "CHANGE_ME" * 10,
        "please-changeme-" + secrets.token_urlsafe(40),
        "replace-me-with-a-long-random-string-of-fifty-chars",
        "your_secret_key_" * 4,
    ],
)
def test_placeholders_are_refused_at_any_length(key):
    assert "placeholder" in secret_key_problem(key)


def test_random_keys_pass():
    for _ in range(200):
        assert secret_key_problem(secrets.token_urlsafe(50)) == ""


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://electnepal.example.org", True),
        ("https://electnepal.example.org:8443", True),
        ("HTTPS://electnepal.example.org", True),
        ("http://electnepal.example.org", False),
        ("https:///path", False),
        ("//electnepal.example.org", False),
    ],
)
def test_site_url_must_be_https_with_a_host(url, ok):
    assert (site_url_problem(url) == "") is ok


def test_debug_checks_nothing():
    production_settings_require_safe(debug=True, secret_key="change-me", secret_key_fallbacks=[], site_url="http://x")


def test_the_error_names_the_setting():
    strong = secrets.token_urlsafe(50)
    with pytest.raises(ImproperlyConfigured, match=r"^SECRET_KEY is unsafe"):
        production_settings_require_safe(
            debug=False, secret_key="change-me", secret_key_fallbacks=[], site_url="https://e.org"
        )
    with pytest.raises(ImproperlyConfigured, match=r"^SECRET_KEY_FALLBACKS entry 2 is unsafe"):
        production_settings_require_safe(
            debug=False, secret_key=strong, secret_key_fallbacks=[strong, "old"], site_url="https://e.org"
        )
    with pytest.raises(ImproperlyConfigured, match=r"^SITE_URL 'http://e\.org' is refused"):
        production_settings_require_safe(
            debug=False, secret_key=strong, secret_key_fallbacks=[], site_url="http://e.org"
        )
