"""The Content-Security-Policy in Chromium: every page works under it, nothing is refused.

``new_page`` fails a test on any "Content Security Policy" console message, so each
visit here proves the page holds nothing the policy blocks; the checks prove that
what the page needs did load: the site's stylesheet, the admin's, the mail
dashboard's, and django-celery-beat's inline script (it runs with the nonce).
"""

import uuid

from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.models import EmailVerification, PasswordResetToken
from accounts.tokens import token_hash
from mailer.rendering import samples
from tests.browser.helpers import log_in, pass_two_factor
from tests.support.candidates import make_user
from tests.support.mfa import authenticator

SITE_BLUE = "rgb(0, 56, 147)"  # header background in electnepal/static/electnepal/site.css


def style_of(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')")


def test_site_pages_load_their_styles_under_the_policy(new_page):
    user = make_user("ram", verified=False)
    verify, reset = uuid.uuid4(), uuid.uuid4()
    EmailVerification.objects.create(user=user, token_hash=token_hash(verify))
    PasswordResetToken.objects.create(user=user, token_hash=token_hash(reset))
    page = new_page()
    for path in [
        "/",
        "/auth/signup/",
        "/auth/login/",
        "/auth/forgot-password/",
        "/auth/resend-verification/",
        f"/auth/verify-email/{verify}/",
        f"/auth/reset-password/{reset}/",
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert style_of(page, "header", "background-color") == SITE_BLUE, path


def test_admin_pages_work_under_the_policy(new_page):
    staff = make_user("boss", staff=True, is_superuser=True)
    every, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    task = PeriodicTask.objects.create(name="demo", task="mailer.sweep", interval=every)
    device = authenticator(staff)
    page = new_page()
    log_in(page, staff, start="/admin/")  # /admin/login/ sends staff to /auth/login/
    pass_two_factor(page, device)  # then to /auth/two-factor/verify/
    assert page.url.endswith("/admin/"), page.url
    # The admin's own stylesheet applied (its header bar is not the browser's default).
    assert style_of(page, "#header", "display") == "flex"

    page.goto("/admin/mailer/dashboard/")
    assert style_of(page, "#hourly-chart", "max-width") == "720px"  # mailer/admin.css
    assert page.locator(".legend-swatch rect").count() >= 6

    page.goto(reverse("mailer:preview", args=[samples.kinds()[0], "en"]))
    assert style_of(page, "#html-part", "height") == "720px"

    page.goto(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    # django-celery-beat's inline script (nonce) ran: it hides the crontab translation row.
    assert page.locator(".field-crontab_translation").is_hidden()
    assert page.locator(".field-name input").input_value() == "demo"
