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
        cwd=ROOT, env=clean_env(**env), capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = check_deploy({**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "change,warning",
    [
        ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_COOKIES": "false"}, "security.W012"),
        ({"SECRET_KEY": "short-key"}, "security.W009"),
        ({"DEBUG": "true"}, "security.W018"),
    ],
)
def test_check_deploy_fails_without_each_production_setting(change, warning):
    result = check_deploy({**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64), **change})
    assert result.returncode != 0 and warning in result.stdout + result.stderr


def test_secret_key_is_required_without_debug():
    result = subprocess.run(
        [sys.executable, "-c", "import electnepal.settings"], cwd=ROOT, env=clean_env(DEBUG="false"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_defaults_are_safe():
    values = production_settings(
        "DEBUG", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
        "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY", "X_FRAME_OPTIONS", "USE_X_FORWARDED_HOST",
        "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "DEFAULT_EXCEPTION_REPORTER",
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
