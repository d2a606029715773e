"""Setting up two-factor in Chromium: the QR code draws under the CSP, the codes show once, the admin opens.

``new_page`` fails a test on any "Content Security Policy" console message.
"""

from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser.helpers import log_in
from tests.support.candidates import make_user
from tests.support.mfa import code_now


def test_a_new_staff_member_sets_up_two_factor_on_the_way_to_the_admin(new_page):
    staff = make_user("gita", staff=True, is_superuser=True)
    page = new_page()
    log_in(page, staff, start="/admin/")
    assert "/auth/two-factor/setup/" in page.url, page.url
    qr = page.locator("svg.segno").bounding_box()
    assert qr and qr["width"] >= 100 and qr["height"] >= 100  # drawn, big enough to scan
    secret = page.locator("li code").inner_text()
    device = TOTPDevice.objects.get(user=staff)
    assert f"secret={secret}" in device.config_url

    page.fill("input[name=token]", code_now(device))
    with page.expect_navigation():
        page.press("input[name=token]", "Enter")
    assert page.locator(".recovery-codes li").count() == 10
    with page.expect_navigation():
        page.click("text=I have saved them: continue")
    assert page.url.endswith("/admin/"), page.url
    assert page.locator("#header").is_visible()
