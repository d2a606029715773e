"""Every email, in every language, as a staff member sees it in /mailer/preview/, in Chromium.

Each rendered email must fit a 360 px phone and an 800 px window without horizontal
scrolling, and Nepali must be drawn with a Devanagari font (a machine without one
draws empty boxes, "tofu", and the screenshots would show them).

``UPDATE_SCREENSHOTS=1`` also writes the verification email at 360 px, full page,
to docs/email-verification-en.png and docs/email-verification-ne.png (shown in the
README).
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from mailer.rendering import samples
from tests.browser.helpers import OVERFLOW, assert_devanagari_drawn, log_in, pass_two_factor
from tests.support.candidates import make_user
from tests.support.mfa import authenticator

DOCS = Path(__file__).resolve().parents[2] / "docs"
WIDTHS = (360, 800)
#: (template, language) -> the README's screenshot of it.
README_SCREENSHOTS = {
    ("accounts/email/verification", "en"): DOCS / "email-verification-en.png",
    ("accounts/email/verification", "ne"): DOCS / "email-verification-ne.png",
}


def every_email() -> list[tuple[str, str]]:
    return [(template, language) for template in samples.kinds() for language in samples.languages_of(template)]


@pytest.fixture
def staff_page(new_page):
    """A page logged in as a staff superuser, through /admin/login/ and the form it leads to."""
    admin = make_user("admin", staff=True, is_superuser=True)
    device = authenticator(admin)
    page = new_page(width=800)
    log_in(page, admin, start="/admin/login/?next=" + reverse("mailer:preview-index"))
    pass_two_factor(page, device)  # previews are guarded as the admin is
    assert page.url.endswith(reverse("mailer:preview-index"))
    return page


def test_the_index_lists_every_kind_in_every_language(staff_page):
    page = staff_page
    expect(page.locator("#previews")).to_be_visible()
    listed = {link.get_attribute("href") for link in page.locator("#previews a").all()}
    expected = {reverse("mailer:preview", args=[template, language]) for template, language in every_email()}
    assert listed == expected
    # Every kind the project sends has a sample, in both languages where the site has them.
    assert {"accounts/email/verification", "candidates/email/rejection"} <= set(samples.kinds())
    assert samples.languages_of("accounts/email/verification") == ["en", "ne"]


def test_every_email_fits_a_phone_and_a_window_and_draws_nepali(staff_page, tmp_path):
    page = staff_page
    update = os.environ.get("UPDATE_SCREENSHOTS") == "1"
    emails = every_email()
    assert len(emails) >= 18
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 400})
        for template, language in emails:
            where = f"{template} ({language}) at {width} px"
            response = page.goto(reverse("mailer:preview-html", args=[template, language]))
            assert response.status == 200, where
            assert "sandbox" in response.headers["content-security-policy"], where
            sizes = page.evaluate(OVERFLOW)
            assert sizes["document"] <= sizes["window"] and sizes["body"] <= sizes["window"], (where, sizes)
            # The brand line carries the Nepali name in every email, English ones too.
            assert_devanagari_drawn(page, ".brand-ne", where)
            if language == "ne":
                assert_devanagari_drawn(page, ".content p", where)
            shot = tmp_path / f"{template.replace('/', '-')}.{language}.{width}.png"
            page.screenshot(path=shot, full_page=True)
            assert shot.stat().st_size > 5_000, where  # a picture, not a blank page
            readme = README_SCREENSHOTS.get((template, language))
            if update and readme and width == 360:
                readme.write_bytes(shot.read_bytes())
    for path in README_SCREENSHOTS.values():
        assert path.exists(), f"{path} is missing: run the browser tests once with UPDATE_SCREENSHOTS=1"


def test_every_detail_page_shows_subject_html_and_text(staff_page):
    page = staff_page
    for template, language in every_email():
        where = f"{template} ({language})"
        email = samples.render_sample(template, language)
        page.goto(reverse("mailer:preview", args=[template, language]))
        subject = page.locator("#subject")
        expect(subject).to_have_text(email.subject)
        assert email.subject.startswith("[ElectNepal] "), where
        assert page.locator("#text-part").text_content().strip() == email.text.strip(), where
        iframe = page.locator("iframe#html-part")
        # Fully sandboxed: an empty sandbox attribute grants nothing (no scripts, no same origin).
        assert iframe.get_attribute("sandbox") == "", where
        assert iframe.get_attribute("src") == reverse("mailer:preview-html", args=[template, language]), where
        body = page.frame_locator("iframe#html-part").locator("td.brand")
        expect(body).to_contain_text("ElectNepal")
        # The frame really loaded the email (not an error page), with its content.
        frame = iframe.element_handle().content_frame()
        assert frame is not None and frame.url.endswith(iframe.get_attribute("src")), where
        assert frame.locator("td.content").inner_text().strip(), where
