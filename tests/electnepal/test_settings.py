"""Production settings (electnepal.settings): ``manage.py check --deploy`` clean, safe defaults.

``check --deploy`` is clean with the settings README "Security" lists for a
production host, and fails without each of them; SECRET_KEY is required without
DEBUG; what a production host gets by default is safe.
"""

import secrets
import subprocess
import sys

import pytest

from tests.support.production import ROOT, clean_env, production_settings

# What README "Security" lists for a production host behind a TLS-terminating proxy.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "electnepal.example.org",
    "SITE_URL": "https://electnepal.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    "TRUSTED_PROXY_COUNT": "1",
}


def check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = check_deploy({**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "warning"),
    [
        ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_COOKIES": "false"}, "security.W012"),
        # W009's weak key no longer gets as far as the check: the settings refuse it.
        ({"SECRET_KEY": "short-key"}, "SECRET_KEY is unsafe"),
        ({"DEBUG": "true"}, "security.W018"),
    ],
)
def test_check_deploy_fails_without_each_production_setting(change, warning):
    result = check_deploy({**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64), **change})
    assert result.returncode != 0 and warning in result.stdout + result.stderr


def test_secret_key_is_required_without_debug():
    result = subprocess.run(
        [sys.executable, "-c", "import electnepal.settings"],
        cwd=ROOT,
        env=clean_env(DEBUG="false"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_defaults_are_safe():
    values = production_settings(
        "DEBUG",
        "ALLOWED_HOSTS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "X_FRAME_OPTIONS",
        "USE_X_FORWARDED_HOST",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "DEFAULT_EXCEPTION_REPORTER",
    )
    assert values == {
        "DEBUG": False,
        "ALLOWED_HOSTS": [],  # nothing answers until the operator names the host
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "USE_X_FORWARDED_HOST": False,
        "SECURE_PROXY_SSL_HEADER": None,  # X-Forwarded-Proto believed only when configured
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "DEFAULT_EXCEPTION_REPORTER": "electnepal.redaction.RedactingExceptionReporter",
    }
    assert production_settings("SECURE_PROXY_SSL_HEADER", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO") == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]
    }


# --- what a production process refuses to start with (electnepal/startup_checks.py) ------------


def import_settings(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import electnepal.settings"],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def env_example_value(name: str) -> str:
    """``name``'s value in .env.example, as an operator who copies it gets it."""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip('"')
    raise AssertionError(f"{name} is not set in .env.example")


SAFE = {"DEBUG": "false", "SITE_URL": "https://electnepal.example.org"}


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (env_example_value("SECRET_KEY"), "placeholder"),
        ("change-me" * 8, "placeholder"),  # long enough, still the placeholder
        ("Your-Secret-Key-" + secrets.token_urlsafe(48), "placeholder"),
        ("django-insecure-" + secrets.token_urlsafe(48), "django-insecure-"),
        (secrets.token_urlsafe(32), "fewer than 50"),  # 43 characters: W009's length
        ("ab" * 40, "distinct characters"),  # 80 characters, 2 distinct: W009's variety
    ],
    ids=["env-example", "repeated-placeholder", "tutorial-placeholder", "insecure-prefix", "short", "monotonous"],
)
def test_a_placeholder_or_weak_secret_key_stops_a_production_start(key, why):
    result = import_settings(**SAFE, SECRET_KEY=key)
    assert result.returncode != 0, "electnepal.settings started with an unsafe SECRET_KEY"
    assert "ImproperlyConfigured: SECRET_KEY is unsafe" in result.stderr and why in result.stderr
    assert key not in result.stderr  # the error names the setting, never echoes the key


def test_a_weak_fallback_key_stops_a_production_start():
    result = import_settings(**SAFE, SECRET_KEY=secrets.token_urlsafe(50), SECRET_KEY_FALLBACKS="change-me")
    assert result.returncode != 0 and "SECRET_KEY_FALLBACKS entry 1 is unsafe" in result.stderr


@pytest.mark.parametrize(
    "url", ["http://electnepal.example.org", "http://127.0.0.1:8000", "electnepal.example.org", "https://", ""]
)
def test_a_site_url_that_is_not_https_stops_a_production_start(url):
    result = import_settings(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50), SITE_URL=url)
    assert result.returncode != 0, f"electnepal.settings started with SITE_URL={url!r}"
    assert "ImproperlyConfigured: SITE_URL" in result.stderr


def test_the_default_site_url_stops_a_production_start():
    # Not set at all: the development default (http://127.0.0.1:8000) is not for production.
    result = import_settings(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0 and "SITE_URL 'http://127.0.0.1:8000' is refused" in result.stderr


def test_a_strong_key_and_an_https_site_url_start():
    assert import_settings(**SAFE, SECRET_KEY=secrets.token_urlsafe(50)).returncode == 0


def test_development_starts_with_the_example_env():
    # `make run` with .env copied from .env.example: DEBUG on, placeholder key, http URL.
    result = import_settings(
        DEBUG="true", SECRET_KEY=env_example_value("SECRET_KEY"), SITE_URL=env_example_value("SITE_URL")
    )
    assert result.returncode == 0, result.stderr
