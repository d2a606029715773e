"""Rate limits counted in Redis: HTTP 429 past the limit, per IP and per address."""

import pytest
from django.test import Client

from .helpers import signup


@pytest.fixture
def limits_on(settings):
    settings.RATELIMIT_ENABLE = True


def test_signup_allows_five_posts_per_hour_per_ip(db, limits_on):
    client = Client(REMOTE_ADDR="203.0.113.7")
    codes = [signup(client, username=f"user{i}", email=f"user{i}@example.com").status_code for i in range(6)]
    assert codes == [302] * 5 + [429]
    assert b"Too many requests" in signup(client, username="late", email="late@example.com").content
    # Another address from another IP is not affected.
    assert signup(Client(REMOTE_ADDR="203.0.113.8"), username="other", email="other@example.com").status_code == 302


def test_forged_forwarded_for_does_not_dodge_the_limit(db, limits_on):
    codes = [
        signup(Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"), username=f"f{i}", email=f"f{i}@example.com").status_code
        for i in range(6)
    ]
    assert codes[-1] == 429


def test_forgot_password_is_limited_per_address_across_ips(db, limits_on, settings):
    settings.RATELIMIT_EMAIL_FORM_ADDRESS = "3/h"
    codes = [
        Client(REMOTE_ADDR=f"198.51.100.{i}").post("/auth/forgot-password/", {"email": "Target@example.com"}).status_code
        for i in range(4)
    ]
    assert codes == [302, 302, 302, 429]


def test_limits_off_when_disabled(db, settings):
    settings.RATELIMIT_ENABLE = False
    client = Client()
    assert {signup(client, username=f"u{i}", email=f"u{i}@example.com").status_code for i in range(7)} == {302}
