"""The pages an emailed link opens (verify, reset) accept their own form in Chromium.

They keep the token out of Referer headers. Under "Referrer-Policy: no-referrer" a
browser sends "Origin: null" with the page's own POST, which Django's CSRF check
refuses with 403: the confirm button and the new-password form did nothing for a
real person. Django's test client sends no Origin, so only a browser shows it. The
pages now say "strict-origin": a Referer is only ever the site's origin, never the
path with the token, and the Origin header is the real one.
"""

import uuid

from playwright.sync_api import expect

from accounts.models import EmailVerification, User
from accounts.tokens import token_hash
from tests.support.accounts import reset_token
from tests.support.candidates import make_user


def test_the_reset_form_changes_the_password_in_a_browser(new_page):
    user = make_user("sita")
    token = reset_token(user)
    page = new_page(width=360)
    page.goto(f"/auth/reset-password/{token}/")
    page.fill("input[name=password]", "annapurna-base-camp-4130")
    page.fill("input[name=password_confirm]", "annapurna-base-camp-4130")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Change my password").click()
    assert navigation.value.status == 200 and page.url.endswith("/auth/login/"), (navigation.value.status, page.url)
    expect(page.locator(".messages")).to_contain_text("Your password has been changed")
    assert User.objects.get(pk=user.pk).check_password("annapurna-base-camp-4130")


def test_the_confirm_button_verifies_the_address_in_a_browser(new_page):
    user = make_user("hari", verified=False, is_active=False)
    token = uuid.uuid4()
    EmailVerification.objects.create(user=user, token_hash=token_hash(token))
    page = new_page(width=360)
    page.goto(f"/auth/verify-email/{token}/")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Confirm my address").click()
    assert navigation.value.status == 200 and page.url.endswith("/auth/login/"), (navigation.value.status, page.url)
    expect(page.locator(".messages")).to_contain_text("Your email address is verified")
    assert User.objects.get(pk=user.pk).email_verified
