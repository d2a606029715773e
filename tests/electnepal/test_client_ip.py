"""The client's IP as rate limits count it (electnepal.client_ip): X-Forwarded-For from trusted proxies only.

A forged X-Forwarded-For never dodges a limit, with or without a proxy in front.
"""

from django.test import Client, RequestFactory

from electnepal.client_ip import client_ip
from tests.support.accounts import signup


def meta_request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/auth/signup/", **extra)


def test_client_ip_is_remote_addr_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(meta_request("203.0.113.9", "10.0.0.1, 10.0.0.2")) == "203.0.113.9"


def test_client_ip_counts_trusted_proxies_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client forged the first entry; our one proxy appended the real peer.
    assert client_ip(meta_request("10.0.0.254", "6.6.6.6, 198.51.100.20")) == "198.51.100.20"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(meta_request("10.0.0.254", "6.6.6.6, 198.51.100.20, 10.0.0.3")) == "198.51.100.20"
    # Fewer entries than proxies, or garbage where the client should be: REMOTE_ADDR.
    assert client_ip(meta_request("10.0.0.254", "198.51.100.20")) == "10.0.0.254"
    assert client_ip(meta_request("10.0.0.254", "not-an-ip, 10.0.0.3")) == "10.0.0.254"
    assert client_ip(meta_request("10.0.0.254")) == "10.0.0.254"


def test_forged_forwarded_for_does_not_dodge_a_limit(limits_on, db):
    limits_on.RATELIMIT_EMAIL_FORM_IP = "3/h"
    codes = [
        Client(REMOTE_ADDR="203.0.113.10", HTTP_X_FORWARDED_FOR=f"10.0.{i}.1")
        .post("/auth/forgot-password/", {"email": f"a{i}@example.com"})
        .status_code
        for i in range(4)
    ]
    assert codes == [302, 302, 302, 429]


def test_behind_a_trusted_proxy_forged_entries_do_not_dodge_a_limit(limits_on, db):
    limits_on.TRUSTED_PROXY_COUNT = 1
    limits_on.RATELIMIT_EMAIL_FORM_IP = "3/h"
    codes = [
        Client(REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 198.51.100.30")
        .post("/auth/forgot-password/", {"email": f"b{i}@example.com"})
        .status_code
        for i in range(4)
    ]
    assert codes == [302, 302, 302, 429]
    # ... while two clients behind the same proxy are told apart.
    other = Client(REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="198.51.100.31")
    assert other.post("/auth/forgot-password/", {"email": "c@example.com"}).status_code == 302


def test_forged_forwarded_for_does_not_dodge_the_limit(db, default_limits_on):
    codes = [
        signup(
            Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"),
            username=f"f{i}",
            email=f"f{i}@example.com",
        ).status_code
        for i in range(6)
    ]
    assert codes[-1] == 429
