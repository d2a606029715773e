"""The account pages in Chromium: log in, then each change, in English and with Nepali chosen.

One walk per language: the account page (name, language), a password change, an
email change (a wrong password first, then the request, the link from the new
inbox, sent by the worker through SES, its confirm page), and the deletion. Every page on the way is checked at
360 px (a phone) and 1280 px: nothing may scroll sideways; and each is
screenshotted to ``var/screenshots/account-pages/<language>-<step>-<width>.png``.

Nepali is chosen the two ways a visitor has: her account's preferred language
and the ``django_language`` cookie. Headings, messages and buttons are compared
with what the catalogue gives for that language (``gettext`` under
``translation.override``), and in Nepali they must differ from the English. The
pages' Nepali strings are in ``locale-fragments/account-pages.po`` until they
join ``locale/``: while that file exists, it is compiled (``msgfmt``) into a
catalogue of the test's own, ahead of the others.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

from accounts.models import User
from mailer.models import Email
from tests.browser.helpers import log_in
from tests.support.accounts import emails_to, link_in
from tests.support.candidates import PASSWORD, make_user

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "account-pages"
WIDTHS = (360, 1280)
NEW_PASSWORD = "dhulikhel-sunrise-2083"
# A long address, as people have: it must wrap on a phone, not widen the page.
NEW_EMAIL = "sita.kumari.sharma.kathmandu.valley2083@example.com"

OVERFLOW = """() => ({
    window: window.innerWidth,
    document: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
})"""


FRAGMENT = Path(__file__).resolve().parents[2] / "locale-fragments" / "account-pages.po"


@pytest.fixture
def catalogue(settings, tmp_path):
    """The pages' Nepali strings in LOCALE_PATHS, compiled from their fragment while it exists."""
    if FRAGMENT.exists():
        msgfmt = shutil.which("msgfmt")
        assert msgfmt, "msgfmt is missing: apt-get install gettext"
        target = tmp_path / "locale" / "ne" / "LC_MESSAGES"
        target.mkdir(parents=True)
        subprocess.run([msgfmt, "--check", "-o", str(target / "django.mo"), str(FRAGMENT)], check=True)
        # Changing the setting reloads the catalogues (and restoring it after the test, again).
        settings.LOCALE_PATHS = [tmp_path / "locale", *settings.LOCALE_PATHS]


def text(message: str, language: str) -> str:
    """``message`` as the catalogue has it in ``language``; in Nepali, it must have a translation."""
    with translation.override(language):
        translated = translation.gettext(message)
    assert language == "en" or translated != message, f"no Nepali for {message!r}"
    return translated


class Walk:
    """Checks and screenshots every page of one walk."""

    def __init__(self, page, language: str):
        self.page, self.language, self.shots = page, language, []
        SHOTS.mkdir(parents=True, exist_ok=True)

    def check(self, step: str, heading: str | None = None) -> None:
        page = self.page
        if heading is not None:
            assert page.locator("h1").inner_text().strip() == text(heading, self.language), (step, page.url)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            sizes = page.evaluate(OVERFLOW)
            where = f"{step} ({self.language}) at {width} px"
            assert sizes["document"] <= sizes["window"] and sizes["body"] <= sizes["window"], (where, sizes)
            shot = SHOTS / f"{self.language}-{step}-{width}.png"
            page.screenshot(path=shot, full_page=True)
            assert shot.stat().st_size > 5_000, where  # a picture, not a blank page
            self.shots.append(shot)
        page.set_viewport_size({"width": 1280, "height": 800})

    def message(self) -> str:
        return self.page.locator(".messages li").first.inner_text().strip()

    def submit(self, label: str) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=text(label, self.language)).click()


@pytest.mark.parametrize("language", ["en", "ne"])
def test_each_account_change_in_the_browser(catalogue, e2e, ses, new_page, live_server, language):
    user = make_user("sita", first_name="Sita", language=language)
    page = new_page(width=1280)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    walk = Walk(page, language)

    log_in(page, user)
    page.goto("/auth/account/")
    walk.check("account", "Your account")
    page.fill("[name=last_name]", "शर्मा")
    page.select_option("[name=preferred_language]", language)
    walk.submit("Save")
    assert page.url.endswith("/auth/account/")
    assert walk.message() == text("Your account has been saved.", language)
    assert User.objects.get(pk=user.pk).last_name == "शर्मा"
    walk.check("account-saved")

    page.click("a[href='/auth/password-change/']")
    walk.check("password-change", "Change your password")
    page.fill("[name=old_password]", PASSWORD)
    page.fill("[name=new_password1]", NEW_PASSWORD)
    page.fill("[name=new_password2]", NEW_PASSWORD)
    walk.submit("Change my password")
    assert walk.message() == text("Your password has been changed. Your other sessions were logged out.", language)
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)

    page.click("a[href='/auth/email-change/']")
    walk.check("email-change", "Change your email address")
    page.fill("[name=email]", NEW_EMAIL)
    page.fill("[name=password]", PASSWORD)  # the old one: refused
    walk.submit("Send the link")
    assert page.locator(".errorlist").inner_text().strip() == text("Your password was entered incorrectly.", language)
    walk.check("email-change-error")
    page.fill("[name=password]", NEW_PASSWORD)
    walk.submit("Send the link")
    assert page.url.endswith("/auth/account/")
    walk.check("email-change-sent")

    # The link as the new inbox got it, through the worker and SES.
    (email,) = Email.objects.filter(template="accounts/email/email_change_confirmation")
    assert email.to == NEW_EMAIL and email.language == language
    (message,) = emails_to(ses, NEW_EMAIL)
    page.goto(link_in(message))
    walk.check("email-change-confirm", "Confirm your new address")
    walk.submit("Confirm the new address")
    assert walk.message() == text("Your email address has been changed.", language)
    assert User.objects.get(pk=user.pk).email == NEW_EMAIL
    assert NEW_EMAIL in page.locator(".account-facts").inner_text()
    walk.check("email-changed")

    page.click("a[href='/auth/delete-account/']")
    walk.check("delete-account", "Delete your account")
    page.fill("[name=password]", NEW_PASSWORD)
    walk.submit("Delete my account")
    assert page.url == live_server.url + "/"
    assert walk.message() == text(
        "Your account has been deleted. We have sent you a last email to confirm it.", language
    )
    assert not User.objects.filter(pk=user.pk).exists()
    walk.check("deleted")
    assert len(walk.shots) == 2 * 10
