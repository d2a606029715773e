"""Every page of the site in Chromium, in English and in Nepali, on a phone and a desktop.

Each page of tests/support/site_pages.py is opened as its visitor would reach it
(logged in through the login form on her first visit, with that session after it;
a form filled in and submitted, a CSRF cookie lost, a rate limit reached), in each
language (the language cookie the switch sets), at 360 and 1280 px. Every one must:
answer its status, carry <html lang>, fit the window without horizontal scrolling,
and, in Nepali, draw its Devanagari with a Devanagari font. A full-page screenshot
of each is saved under ``var/screenshots/site/<page>.<language>.<width>.png``
(``SCREENSHOT_DIR`` to change it): one per page, language and width.

Also here: the language switch works without JavaScript, and a Nepali-speaking
user's first page after logging in is in Nepali.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.helpers import OVERFLOW, assert_devanagari_drawn, log_in
from tests.support.candidates import make_user
from tests.support.site_pages import site_pages

ROOT = Path(__file__).resolve().parents[2]
#: (page, language) -> the README's screenshot of it, at 360 px (rewritten with UPDATE_SCREENSHOTS=1).
README_SCREENSHOTS = {
    ("review", "en"): ROOT / "docs" / "site-review-en.png",
    ("review", "ne"): ROOT / "docs" / "site-review-ne.png",
}
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "var" / "screenshots" / "site"))
WIDTHS = (360, 1280)
LANGUAGES = ("en", "ne")
# Marks the first element in <main> with Nepali text of its own, for the font check.
MARK_NEPALI = """() => {
    for (const element of document.querySelectorAll('main *')) {
        const own = [...element.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('');
        if (/[\\u0900-\\u097F]/.test(own)) { element.setAttribute('data-nepali', ''); return true; }
    }
    return false;
}"""


def fill_and_submit(page, fields: dict) -> object:
    """Fill the page's main form as a person would, submit it, and return the final response."""
    form = page.locator("main form[method=post]").first
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        kind = field.evaluate("f => f.tagName.toLowerCase() + ':' + (f.type || '')")
        if kind.startswith("select"):
            field.select_option(value)
        elif kind.endswith("checkbox"):
            field.check()
        else:
            field.fill(value)
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").first.click()
    return navigation.value


def visit(browser, live_server, settings, site_page, *, language: str, width: int, sessions: dict):
    """Open ``site_page`` as its visitor, in ``language``, at ``width`` px; return (page, response, context).

    A visitor logs in through the login form on her first visit and comes back with
    that session (its cookies, ``sessions[user.pk]``) on the next ones, as a person
    who stays logged in does.
    """
    user = site_page.user
    state = sessions.get(user.pk) if user is not None else None
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 720}, storage_state=state
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    if user is not None and state is None:
        log_in(page, user)  # the login sets her own language: choose the one under test after it
        sessions[user.pk] = context.storage_state()
    context.add_cookies([{"name": django_settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    if site_page.post is None:
        response = page.goto(site_page.path)
        _still_logged_in(page, site_page)
        return page, response, context
    page.goto(site_page.path)
    _still_logged_in(page, site_page)
    if site_page.special == "csrf":
        context.clear_cookies(name=django_settings.CSRF_COOKIE_NAME)
    if site_page.special == "ratelimit":
        settings.RATELIMIT_ENABLE = True
        settings.RATELIMIT_LOGIN_FAILURES_IP = "1/h"
        fill_and_submit(page, site_page.post)  # the one failure allowed
    response = fill_and_submit(page, site_page.post)
    settings.RATELIMIT_ENABLE = False
    return page, response, context


def _still_logged_in(page, site_page) -> None:
    # A session the server no longer knows would show the page a stranger sees (or
    # the login page), most of them with 200 too: say so rather than check the wrong page.
    if site_page.user is None:
        return
    where = f"{site_page.name}: {site_page.user.username} is logged out: {page.url}"
    assert "/auth/login/" not in page.url, where
    nav = page.locator("header nav")
    assert not nav.count() or nav.locator("form[action*='logout']").count() == 1, where


@pytest.fixture
def pages(transactional_db, settings):
    settings.ROOT_URLCONF = "tests.support.site_pages"
    return site_pages()


def test_every_page_in_both_languages_fits_a_phone_and_a_desktop(browser, live_server, settings, pages, redis_client):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, sessions = [], {}
    for site_page in pages:
        for language in LANGUAGES:
            for width in WIDTHS:
                redis_client.flushdb()  # rate-limit counters: each visit starts afresh
                where = f"{site_page.name} ({language}, {width} px)"
                page, response, context = visit(
                    browser, live_server, settings, site_page, language=language, width=width, sessions=sessions
                )
                try:
                    assert response.status == site_page.status, (where, response.status, page.url)
                    assert page.locator("html").get_attribute("lang") == language, where
                    sizes = page.evaluate(OVERFLOW)
                    if not (sizes["document"] <= sizes["window"] and sizes["body"] <= sizes["window"]):
                        problems.append(f"{where}: wider than the window: {sizes}")
                    if language == "ne":
                        assert page.evaluate(MARK_NEPALI), f"{where}: no Nepali text in <main>"
                        assert_devanagari_drawn(page, "[data-nepali]", where)
                    shot = SCREENSHOTS / f"{site_page.name}.{language}.{width}.png"
                    page.screenshot(path=shot, full_page=True)
                    assert shot.stat().st_size > 5_000, where
                    readme = README_SCREENSHOTS.get((site_page.name, language))
                    if readme and width == 360 and os.environ.get("UPDATE_SCREENSHOTS") == "1":
                        readme.write_bytes(shot.read_bytes())
                finally:
                    context.close()
    assert not problems, "\n".join(problems)
    assert len(list(SCREENSHOTS.glob("*.png"))) >= len(pages) * len(LANGUAGES) * len(WIDTHS)
    for path in README_SCREENSHOTS.values():
        assert path.exists(), f"{path} is missing: run the browser tests once with UPDATE_SCREENSHOTS=1"


def test_the_switch_works_without_javascript(new_page):
    page = new_page(width=360, javascript=False)
    page.goto("/auth/forgot-password/")
    assert page.locator("html").get_attribute("lang") == "en"
    with page.expect_navigation():
        page.get_by_role("button", name="नेपाली").click()
    assert page.url.endswith("/auth/forgot-password/")
    assert page.locator("html").get_attribute("lang") == "ne"
    expect(page.locator("h1")).to_have_text("पासवर्ड बिर्सनुभयो?")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Forgot your password?")


def test_logging_in_brings_her_language_and_switching_changes_it(new_page):
    user = make_user("sita", language="ne")
    page = new_page(javascript=False)
    log_in(page, user, start="/auth/login/?next=/candidates/dashboard/")
    assert page.locator("html").get_attribute("lang") == "ne"
    expect(page.locator("h1")).to_have_text("तपाईंको उम्मेदवारी")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Your candidacy")
    assert User.objects.get(pk=user.pk).preferred_language == "en"
