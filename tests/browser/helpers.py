"""Steps the browser tests share."""

from tests.support.candidates import PASSWORD
from tests.support.mfa import code_now


def log_in(page, user, *, start: str = "/auth/login/") -> None:
    """Log ``user`` in through the login form that ``start`` leads to (following its redirect)."""
    page.goto(start)
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert "/login/" not in page.url, f"still on the login page: {page.url}"


def pass_two_factor(page, device) -> None:
    """On /auth/two-factor/verify/, enter the code ``device``'s app shows now."""
    assert "/auth/two-factor/verify/" in page.url, page.url
    page.fill("input[name=token]", code_now(device))
    with page.expect_navigation():
        page.press("input[name=token]", "Enter")
    assert "/auth/two-factor/" not in page.url, f"still on the two-factor page: {page.url}"
