"""Two-factor for staff (accounts/mfa/, electnepal/admin_site.py), through the real pages.

Staff sign in with the login form, as in production; codes are computed the way the
authenticator app computes them (tests/support/mfa.py).
"""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mailer.models import Email
from tests.support.candidates import PASSWORD, make_user
from tests.support.mfa import authenticator, code_now, staff_login

ENABLED = "accounts/email/two_factor_enabled"
DISABLED = "accounts/email/two_factor_disabled"
ADMIN_PAGES = [
    "/admin/",
    "/admin/mailer/email/",
    "/admin/accounts/user/",
    "/admin/candidates/candidate/",
    "/admin/mailer/dashboard/",
    "/admin/otp_totp/totpdevice/",
]


def password_login(user, next_url="/admin/") -> Client:
    client = Client()
    response = client.post(
        f"/auth/login/?next={next_url}", {"username": user.username, "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302 and response["Location"] == next_url
    return client


def emails(template: str) -> list[tuple[str, str]]:
    return list(Email.objects.filter(template=template).values_list("to", "language"))


@pytest.fixture
def staff(db):
    return make_user("asha", staff=True, is_superuser=True)


# --- no admin page without the second factor ------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_password_alone_opens_no_admin_page(staff, path):
    client = password_login(staff)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/two-factor/setup/?next=")
    authenticator(staff)
    assert client.get(path)["Location"].startswith("/auth/two-factor/verify/?next=")


def test_an_unconfirmed_authenticator_is_no_second_factor(staff):
    authenticator(staff, confirmed=False)
    client = password_login(staff)
    assert client.get("/admin/")["Location"] == "/auth/two-factor/setup/?next=%2Fadmin%2F"


def test_the_two_factor_pages_are_for_signed_in_staff(db):
    for path in ("/auth/two-factor/setup/", "/auth/two-factor/verify/", "/auth/two-factor/disable/"):
        assert Client().get(path)["Location"].startswith("/auth/login/?next=/auth/two-factor/")
        citizen = Client()
        citizen.force_login(make_user(f"citizen{len(path)}"))
        assert citizen.get(path).status_code == 403


# --- set-up ----------------------------------------------------------------------------


def test_setting_up_shows_recovery_codes_once_and_emails_the_address(staff, settings):
    client = password_login(staff)
    page = client.get("/auth/two-factor/setup/?next=/admin/mailer/email/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert b"<svg" in page.content and b"<script" not in page.content
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    secret = re.search(rb"<code>([A-Z2-7]+)</code>", page.content).group(1).decode()
    assert "secret=" + secret in device.config_url and "issuer=ElectNepal" in device.config_url
    assert client.get("/auth/two-factor/setup/").status_code == 200  # a reload keeps the same secret
    assert TOTPDevice.objects.filter(user=staff).count() == 1

    wrong = client.post("/auth/two-factor/setup/", {"token": "000000" if code_now(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and b"That code is not right" in wrong.content
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed and emails(ENABLED) == []
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # no wait before the next try

    done = client.post("/auth/two-factor/setup/", {"token": code_now(device), "next": "/admin/mailer/email/"})
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    codes = re.findall(rb"<li><code>([a-z2-7]{8})</code></li>", done.content)
    assert len(codes) == 10
    assert sorted(c.decode() for c in codes) == sorted(StaticToken.objects.values_list("token", flat=True))
    assert b'href="/admin/mailer/email/"' in done.content
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert emails(ENABLED) == [(staff.email, "en")]
    # This session passed: the admin opens.
    assert client.get("/admin/mailer/email/").status_code == 200
    # The codes are not shown again: the set-up page now leads on.
    assert client.get("/auth/two-factor/setup/")["Location"].startswith("/auth/two-factor/verify/")


def test_the_enabled_email_goes_in_the_users_language(db):
    staff = make_user("ram", staff=True, language="ne")
    client = password_login(staff)
    client.get("/auth/two-factor/setup/")
    device = TOTPDevice.objects.get(user=staff)
    assert client.post("/auth/two-factor/setup/", {"token": code_now(device)}).status_code == 200
    assert emails(ENABLED) == [(staff.email, "ne")]


def test_a_code_for_someone_elses_device_enables_nothing(staff):
    other = make_user("bina", staff=True)
    other_device = authenticator(other, confirmed=False)
    client = password_login(staff)
    client.get("/auth/two-factor/setup/")
    client.post("/auth/two-factor/setup/", {"token": code_now(other_device)})
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert emails(ENABLED) == []


# --- verify ----------------------------------------------------------------------------


def test_a_code_from_the_app_opens_the_admin_once(staff):
    device = authenticator(staff)
    client = password_login(staff)
    assert client.get("/admin/")["Location"] == "/auth/two-factor/verify/?next=%2Fadmin%2F"
    session_before = client.cookies["sessionid"].value
    code = code_now(device)
    response = client.post("/auth/two-factor/verify/?next=/admin/", {"token": code, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.cookies["sessionid"].value != session_before  # a new session id for the new privilege
    assert client.get("/admin/").status_code == 200
    # The same code again, from another session (someone who saw it): refused.
    replay = password_login(staff)
    assert b"That code is not right" in replay.post("/auth/two-factor/verify/", {"token": code}).content
    assert replay.get("/admin/").status_code == 302


def test_guessing_codes_locks_the_device_for_a_while(staff):
    device = authenticator(staff)
    client = password_login(staff)
    right = code_now(device)
    for wrong in ("000001", "000002", "000003"):
        if wrong != right:
            client.post("/auth/two-factor/verify/", {"token": wrong})
    # Even the right code is refused while the device is throttled (django-otp: 1 s, 2 s, 4 s, ...).
    assert b"That code is not right" in client.post("/auth/two-factor/verify/", {"token": right}).content
    assert client.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(staff):
    staff_login(Client(), staff)
    recovery = StaticDevice.objects.create(user=staff, name="Recovery codes", confirmed=True)
    recovery.token_set.create(token="abcd2345")
    recovery.token_set.create(token="efgh6723")
    client = password_login(staff)
    response = client.post("/auth/two-factor/verify/", {"token": "ABCD 2345", "next": "/admin/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/admin/" and response.status_code == 200
    assert "You used a recovery code; 1 is left" in response.content.decode()
    again = password_login(staff)
    assert b"That code is not right" in again.post("/auth/two-factor/verify/", {"token": "abcd2345"}).content


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_verify_leads_only_to_this_site(staff, next_url):
    device = authenticator(staff)
    client = password_login(staff)
    response = client.post("/auth/two-factor/verify/", {"token": code_now(device), "next": next_url})
    assert response["Location"] == "/admin/"


# --- turning it off --------------------------------------------------------------------


def test_turning_two_factor_off_needs_password_and_code_and_emails_the_address(staff):
    client = Client()
    device = staff_login(client, staff)
    StaticDevice.objects.create(user=staff, name="Recovery codes", confirmed=True).token_set.create(token="abcd2345")
    refused = client.post("/auth/two-factor/disable/", {"password": "not-it", "token": code_now(device)})
    assert refused.status_code == 200 and b"That is not your password" in refused.content
    refused = client.post("/auth/two-factor/disable/", {"password": PASSWORD, "token": "abcdefgh"})
    assert refused.status_code == 200 and b"That code is not right" in refused.content
    assert TOTPDevice.objects.filter(user=staff).exists() and emails(DISABLED) == []
    StaticDevice.objects.filter(user=staff).update(throttling_failure_count=0)

    done = client.post("/auth/two-factor/disable/", {"password": PASSWORD, "token": code_now(device)})
    assert done.status_code == 302 and done["Location"] == "/"
    assert not TOTPDevice.objects.filter(user=staff).exists() and not StaticDevice.objects.filter(user=staff).exists()
    assert emails(DISABLED) == [(staff.email, "en")]
    # The session is no longer past the second factor, and the admin asks for a new set-up.
    assert client.get("/admin/")["Location"] == "/auth/two-factor/setup/?next=%2Fadmin%2F"


def test_turning_off_asks_for_the_second_factor_first(staff):
    authenticator(staff)
    client = password_login(staff)
    response = client.get("/auth/two-factor/disable/")
    assert response["Location"] == "/auth/two-factor/verify/?next=/auth/two-factor/disable/"


def test_the_reset_command_lets_a_staff_member_set_up_again(staff):
    client = Client()
    staff_login(client, staff)
    out = StringIO()
    call_command("two_factor_reset", "asha", stdout=out)
    assert "two-factor turned off for asha" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=staff).exists() and emails(DISABLED) == [(staff.email, "en")]
    assert client.get("/admin/")["Location"] == "/auth/two-factor/setup/?next=%2Fadmin%2F"
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("two_factor_reset", "nobody")
