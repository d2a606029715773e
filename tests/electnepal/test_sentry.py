"""SENTRY_DSN turns on sentry-sdk, and what reaches Sentry holds no link token (electnepal.sentry).

Sentry is a local HTTP endpoint here (tests/support/sentry.py): the DSN points at
it, and the test reads the envelopes the SDK really posted.
"""

import os
import subprocess
import sys
import uuid

import pytest
import sentry_sdk
from django.conf import settings
from django.test import Client, RequestFactory

from accounts import services
from electnepal.sentry import redact_event, sentry_init
from tests.support.accounts import reset_token
from tests.support.sentry import FakeSentry
from tests.support.waits import wait_for

NEW_PASSWORD = "pokhara-lakeside-2083"


def spellings(token: uuid.UUID) -> list[str]:
    return [str(token), token.hex, str(token).upper(), token.hex.upper()]


@pytest.fixture
def fake_sentry():
    server = FakeSentry().start()
    yield server
    server.stop()


@pytest.fixture
def sentry_on(fake_sentry):
    """sentry-sdk started as settings start it, pointed at the local endpoint; off again afterwards."""
    assert sentry_init(dsn=fake_sentry.dsn, environment="test")
    yield fake_sentry
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_settings_start_sentry_from_sentry_dsn_and_events_arrive_redacted(fake_sentry):
    """The real path: a process whose environment has SENTRY_DSN reports an error to it."""
    token = uuid.uuid4()
    script = f"""
import logging, django, sentry_sdk
django.setup()
try:
    raise RuntimeError("no reset token at /auth/reset-password/{token.hex}/ ({str(token).upper()})")
except RuntimeError:
    logging.getLogger("accounts").error(
        "could not reset the password of %s", "/auth/reset-password/{token}/", exc_info=True)
sentry_sdk.flush(10)
"""
    env = {**os.environ, "SENTRY_DSN": fake_sentry.dsn, "SENTRY_ENVIRONMENT": "staging"}
    env.pop("ADMINS", None)
    subprocess.run([sys.executable, "-c", script], env=env, cwd=settings.BASE_DIR, check=True, timeout=60)
    (event,) = fake_sentry.events()
    assert event["environment"] == "staging"
    assert event["exception"]["values"][-1]["value"] == "no reset token at /auth/reset-password/********/ (********)"
    assert "could not reset the password of /auth/reset-password/********/" in fake_sentry.raw()
    for spelling in spellings(token):
        assert spelling not in fake_sentry.raw()


def test_without_sentry_dsn_nothing_is_started():
    assert sentry_init(dsn="", environment="test") is False
    script = "import django, sentry_sdk; django.setup(); print(sentry_sdk.get_client().is_active())"
    env = {key: value for key, value in os.environ.items() if key != "SENTRY_DSN"}
    output = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert output.strip() == "False"


def test_a_500_reaches_sentry_without_token_or_password(sentry_on, user, monkeypatch):
    token = reset_token(user)

    def broken(*, token):
        raise RuntimeError(f"database unavailable while looking up {token}")

    monkeypatch.setattr(services, "password_reset_user", broken)
    response = Client(raise_request_exception=False).post(
        f"/auth/reset-password/{token}/", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert response.status_code == 500
    sentry_sdk.flush(10)
    wait_for(sentry_on.events, message="the event to reach the endpoint")
    event = sentry_on.events()[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["exception"]["values"][-1]["value"] == "database unavailable while looking up ********"
    assert "data" not in event["request"]  # the form's body (both passwords) is not collected
    raw = sentry_on.raw()
    for spelling in spellings(token):
        assert spelling not in raw
    assert NEW_PASSWORD not in raw


def test_redact_event_blanks_a_token_everywhere_in_every_spelling():
    token = uuid.uuid4()
    event = {
        "request": {"url": f"https://electnepal.test/auth/verify-email/{token}/"},
        "exception": {
            "values": [
                {
                    "value": f"bad token {token.hex.upper()}",
                    "stacktrace": {
                        "frames": [{"vars": {"kwargs": f"{{'token': UUID('{token}')}}", "other": [str(token).upper()]}}]
                    },
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": f"GET /auth/verify-email/{token}/"}]},
        "extra": {"count": 3},
    }
    redacted = redact_event(event)
    text = repr(redacted)
    for spelling in spellings(token):
        assert spelling not in text
    assert redacted["request"]["url"] == "https://electnepal.test/auth/verify-email/********/"
    assert redacted["exception"]["values"][0]["value"] == "bad token ********"
    assert redacted["extra"] == {"count": 3}


def test_redact_event_learns_the_token_from_a_frame_variable_or_the_logged_request():
    token = uuid.uuid4()
    frames = [{"vars": {"token": f"UUID('{token}')"}}]
    event = {"exception": {"values": [{"value": f"no row for {token.hex}", "stacktrace": {"frames": frames}}]}}
    assert redact_event(event)["exception"]["values"][0]["value"] == "no row for ********"

    request = RequestFactory().get(f"/auth/verify-email/{token}/")
    assert redact_event({"message": f"failed: {token.hex.upper()}"}, request=request) == {"message": "failed: ********"}
