"""Rate limits (django-ratelimit on the Redis cache): per IP and per target, 429 past them.

Every limited form is driven through the same two checks: the IP limit (one IP,
a new target each time) and the target limit (one target, a new IP each time,
for an address that has an account and one that has none; a login's target is
the (IP, username) pair, and a username alone only slows down: see the login tests). Rates come from
settings, so each test sets a small one (``limits_on``), or uses the settings' own
(``default_limits_on``); RATELIMIT_ENABLE=false turns them off. Which client IP a
limit counts: tests/electnepal/test_client_ip.py.
"""

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.hashers import get_hasher
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import EmailVerification, PasswordResetToken, User
from accounts.tokens import token_hash
from mailer.models import Email
from tests.support.accounts import PASSWORD, handle_address_requests, signup
from tests.support.mfa import pass_two_factor
from tests.support.production import production_settings


@pytest.fixture
def known_user(db):
    user = User(username="known", email="known@example.com", email_verified_at=timezone.now())
    user.set_password(PASSWORD)
    user.save()
    return user


def live_token(model, user) -> uuid.UUID:
    token = uuid.uuid4()
    model.objects.create(user=user, token_hash=token_hash(token))
    return token


PATHS = {
    "signup": "/auth/signup/",
    "resend": "/auth/resend-verification/",
    "forgot": "/auth/forgot-password/",
    "verify": "/auth/verify-email/{target}/",
    "reset": "/auth/reset-password/{target}/",
    "login": "/auth/login/",
}


@dataclass
class Form:
    """A limited form: where it posts, what, and which settings limit it."""

    name: str
    ip_setting: str
    target_setting: str

    def path(self, target: str) -> str:
        return PATHS[self.name].format(target=target)

    def data(self, target: str, i: int) -> dict:
        if self.name == "signup":
            return {
                "username": f"user{i}",
                "email": target,
                "first_name": "Sita",
                "last_name": "Sharma",
                "password1": PASSWORD,
                "password2": PASSWORD,
            }
        if self.name in ("resend", "forgot"):
            return {"email": target}
        if self.name == "login":
            return {"username": target, "password": "wrong-password"}  # failures are what count
        if self.name == "reset":
            return {"password": "123", "password_confirm": "123"}  # refused by the validators: the link stays
        return {}

    def post(self, target: str, i: int, ip: str):
        return Client(REMOTE_ADDR=ip).post(self.path(target), self.data(target, i))


FORMS = [
    Form("signup", "RATELIMIT_SIGNUP", "RATELIMIT_EMAIL_FORM_ADDRESS"),
    Form("resend", "RATELIMIT_EMAIL_FORM_IP", "RATELIMIT_EMAIL_FORM_ADDRESS"),
    Form("forgot", "RATELIMIT_EMAIL_FORM_IP", "RATELIMIT_EMAIL_FORM_ADDRESS"),
    Form("verify", "RATELIMIT_LINK_FORM_IP", "RATELIMIT_LINK_FORM_LINK"),
    Form("reset", "RATELIMIT_LINK_FORM_IP", "RATELIMIT_LINK_FORM_LINK"),
    Form("login", "RATELIMIT_LOGIN_FAILURES_IP", "RATELIMIT_LOGIN_FAILURES_IP_USERNAME"),
]
# Forms whose target limit holds across IPs (a username's only slows down: see the login tests).
TARGET_FORMS = [form for form in FORMS if form.name != "login"]


def one_target(form: Form, user: User, *, known: bool) -> str:
    """A target of ``form`` that belongs to an account (a live link, its address, its username) or not."""
    if form.name in ("verify", "reset"):
        model = EmailVerification if form.name == "verify" else PasswordResetToken
        return str(live_token(model, user) if known else uuid.uuid4())
    if form.name == "login":
        return "known" if known else "nobody"
    return "known@example.com" if known else "nobody@example.com"


def distinct_targets(form: Form, n: int) -> list[str]:
    if form.name in ("verify", "reset"):
        return [str(uuid.uuid4()) for _ in range(n)]
    if form.name == "login":
        return [f"someone{i}" for i in range(n)]
    return [f"someone{i}@example.com" for i in range(n)]


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_per_ip_limit(limits_on, known_user, form):
    setattr(limits_on, form.ip_setting, "3/h")
    codes = [form.post(t, i, "203.0.113.1").status_code for i, t in enumerate(distinct_targets(form, 4))]
    assert codes[:3] == [codes[0]] * 3 and codes[0] != 429
    assert codes[3] == 429
    # Another IP is not affected.
    assert form.post(distinct_targets(form, 1)[0], 99, "203.0.113.2").status_code != 429


@pytest.mark.parametrize("known", [True, False], ids=["with-account", "without-account"])
@pytest.mark.parametrize("form", TARGET_FORMS, ids=lambda f: f.name)
def test_per_target_limit_across_ips_whether_or_not_it_exists(limits_on, known_user, form, known):
    setattr(limits_on, form.target_setting, "3/h")
    target = one_target(form, known_user, known=known)
    codes = [form.post(target, i, f"198.51.100.{i + 1}").status_code for i in range(4)]
    assert 429 not in codes[:3] and codes[3] == 429


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_the_429_page_is_readable(limits_on, known_user, form):
    setattr(limits_on, form.ip_setting, "1/h")
    for i, target in enumerate(distinct_targets(form, 2)):
        response = form.post(target, i, "203.0.113.3")
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert b"<h1>Too many requests</h1>" in response.content
    assert b"Please wait a while and try again." in response.content


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_limits_off_when_disabled(limits_on, known_user, form):
    setattr(limits_on, form.ip_setting, "1/h")
    setattr(limits_on, form.target_setting, "1/h")
    limits_on.RATELIMIT_ENABLE = False
    target = one_target(form, known_user, known=False)
    codes = {form.post(target, i, "203.0.113.4").status_code for i in range(4)}
    assert 429 not in codes


def test_defaults_limit_and_trust_no_proxy():
    defaults = production_settings(
        "RATELIMIT_ENABLE",
        "RATELIMIT_SIGNUP",
        "TRUSTED_PROXY_COUNT",
        "RATELIMIT_EMAIL_FORM_ADDRESS",
        "ACCOUNTS_RESEND_INTERVAL_SECONDS",
    )
    assert defaults == {
        "RATELIMIT_ENABLE": True,
        "RATELIMIT_SIGNUP": "5/h",
        "TRUSTED_PROXY_COUNT": 0,
        "RATELIMIT_EMAIL_FORM_ADDRESS": "5/h",
        "ACCOUNTS_RESEND_INTERVAL_SECONDS": 180,
    }


# --- At the settings' own rates -------------------------------------------------------


def test_signup_allows_five_posts_per_hour_per_ip(db, default_limits_on):
    client = Client(REMOTE_ADDR="203.0.113.7")
    codes = [signup(client, username=f"user{i}", email=f"user{i}@example.com").status_code for i in range(6)]
    assert codes == [302] * 5 + [429]
    assert b"Too many requests" in signup(client, username="late", email="late@example.com").content
    # Another address from another IP is not affected.
    assert signup(Client(REMOTE_ADDR="203.0.113.8"), username="other", email="other@example.com").status_code == 302


def test_forgot_password_is_limited_per_address_across_ips(db, default_limits_on, settings):
    settings.RATELIMIT_EMAIL_FORM_ADDRESS = "3/h"
    codes = [
        Client(REMOTE_ADDR=f"198.51.100.{i}")
        .post("/auth/forgot-password/", {"email": "Target@example.com"})
        .status_code
        for i in range(4)
    ]
    assert codes == [302, 302, 302, 429]


def test_limits_off_when_disabled_at_default_rates(db, settings):
    settings.RATELIMIT_ENABLE = False
    client = Client()
    assert {signup(client, username=f"u{i}", email=f"u{i}@example.com").status_code for i in range(7)} == {302}


# --- Failed logins only ---------------------------------------------------------------


def login(username: str, password: str, ip: str):
    return Client(REMOTE_ADDR=ip).post("/auth/login/", {"username": username, "password": password})


def test_only_failed_logins_count(limits_on, known_user):
    limits_on.RATELIMIT_LOGIN_FAILURES_IP_USERNAME = "2/h"
    for _ in range(4):  # successes spend nothing
        assert login("known", PASSWORD, "203.0.113.5").status_code == 302
    for _ in range(2):
        assert login("known", "x", "203.0.113.5").status_code == 200
    # Past the (IP, username) limit even the right password is refused from that IP, and not checked at all.
    hasher = type(get_hasher())
    with mock.patch.object(hasher, "encode", autospec=True, side_effect=hasher.encode) as encode:
        blocked = login("KNOWN", PASSWORD, "203.0.113.5")
    assert blocked.status_code == 429 and encode.call_count == 0
    assert not blocked.wsgi_request.user.is_authenticated
    # Another name from that IP, and that name from another IP, are not affected.
    assert login("someone", "x", "203.0.113.5").status_code == 200
    assert login("known", PASSWORD, "203.0.113.6").status_code == 302


@pytest.mark.parametrize("known", [True, False], ids=["with-account", "without-account"])
def test_per_ip_and_username_limit_whether_or_not_it_exists(limits_on, known_user, known):
    limits_on.RATELIMIT_LOGIN_FAILURES_IP_USERNAME = "3/h"
    name = "known" if known else "nobody"
    codes = [login(name, "wrong-password", "203.0.113.10").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_nobody_can_lock_an_account_out(limits_on, known_user):
    """An attacker's failures on a username, from many IPs, slow it down; the owner still logs in."""
    limits_on.RATELIMIT_LOGIN_FAILURES_USERNAME = "3/h"
    limits_on.RATELIMIT_LOGIN_SLOWDOWN_SECONDS = 0.2
    limits_on.RATELIMIT_LOGIN_SLOWDOWN_MAX_SECONDS = 0.4
    for i in range(8):
        assert login("known", f"guess-{i}", f"198.51.100.{i + 1}").status_code == 200
    started = time.monotonic()
    owner = login("known", PASSWORD, "192.0.2.200")
    waited = time.monotonic() - started
    assert owner.status_code == 302 and owner.wsgi_request.user.is_authenticated
    # Slowed, not blocked: the wait doubled per failure past the limit, up to its cap.
    assert 0.4 <= waited < 5
    # Below the limit, nobody waits.
    started = time.monotonic()
    assert login("someone", "x", "192.0.2.201").status_code == 200
    assert time.monotonic() - started < 0.2


def concurrently(n: int, request) -> list[int]:
    """Run ``request(i)`` in n threads released at once; return the status codes."""
    barrier = threading.Barrier(n)
    codes = [None] * n

    def run(i):
        barrier.wait()
        try:
            codes[i] = request(i).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


@pytest.mark.parametrize("limit", ["RATELIMIT_LOGIN_FAILURES_IP", "RATELIMIT_LOGIN_FAILURES_IP_USERNAME"])
def test_parallel_failures_do_not_overshoot_the_limit(transactional_db, limits_on, limit):
    """Ten wrong passwords at once from one IP (to one name): exactly the limit gets a password check."""
    setattr(limits_on, limit, "3/h")
    hasher = type(get_hasher())
    with mock.patch.object(hasher, "encode", autospec=True, side_effect=hasher.encode) as encode:
        codes = concurrently(10, lambda i: login("target", f"guess-{i}", "203.0.113.20"))
    assert sorted(codes) == [200] * 3 + [429] * 7
    assert encode.call_count == 3
    # The counter holds: the next attempt is refused too.
    assert login("target", "guess", "203.0.113.20").status_code == 429


def test_the_admin_logs_in_through_the_limited_form(limits_on, known_user):
    limits_on.RATELIMIT_LOGIN_FAILURES_IP = "1/h"
    response = Client().get("/admin/login/?next=/admin/mailer/email/")
    assert response.status_code == 302 and response["Location"] == "/auth/login/?next=/admin/mailer/email/"
    # Django's own admin form never checks a password.
    posted = Client(REMOTE_ADDR="203.0.113.8").post("/admin/login/", {"username": "known", "password": "x"})
    assert posted.status_code == 302 and posted["Location"].startswith("/auth/login/")
    staff = User.objects.create_user(
        "boss", "boss@example.com", PASSWORD, is_staff=True, email_verified_at=timezone.now()
    )
    client = Client(REMOTE_ADDR="203.0.113.9")
    assert (
        client.post("/auth/login/?next=/admin/", {"username": "boss", "password": PASSWORD, "next": "/admin/"})[
            "Location"
        ]
        == "/admin/"
    )
    # The password alone does not open the admin: the second factor comes first (accounts/mfa/).
    assert client.get("/admin/")["Location"] == "/auth/two-factor/setup/?next=%2Fadmin%2F"
    pass_two_factor(client, staff)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/")["Location"] == "/admin/"
    client.force_login(known_user)  # signed in, not staff
    assert client.get("/admin/login/").status_code == 403
    assert staff.is_staff


# --- Resend: one email per address per 3 minutes --------------------------------------


def test_resend_sends_at_most_one_email_per_address_per_three_minutes(db, settings):
    assert settings.ACCOUNTS_RESEND_INTERVAL_SECONDS == 180
    user = User(username="pending", email="pending@example.com", is_active=False)
    user.set_password(PASSWORD)
    user.save()
    for _ in range(3):
        Client().post("/auth/resend-verification/", {"email": "pending@example.com"})
    handle_address_requests()
    assert Email.objects.filter(template="accounts/email/verification").count() == 1
    # 2 min 59 s later: still nothing; 3 min later: one more.
    EmailVerification.objects.update(created_at=timezone.now() - timedelta(seconds=179))
    Client().post("/auth/resend-verification/", {"email": "pending@example.com"})
    handle_address_requests()
    assert Email.objects.filter(template="accounts/email/verification").count() == 1
    EmailVerification.objects.update(created_at=timezone.now() - timedelta(seconds=181))
    Client().post("/auth/resend-verification/", {"email": "PENDING@example.com"})
    handle_address_requests()
    assert Email.objects.filter(template="accounts/email/verification").count() == 2
